"""Shared pieces of the benchmarks: JSON lines, percentiles, the bench database, gunicorn.

Figures go to stdout, one JSON object per line; everything else (progress, diagnostics) goes
to stderr so `make bench > figures.jsonl` captures only the figures.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/itsm_bench"
BENCH_USERNAME = "bench-api"
STATIC_ROOT = Path(tempfile.gettempdir()) / "itsm-bench-static"
#: CIs made by the create benchmarks get this type, so they can be found and deleted afterwards.
BENCH_CREATED_TYPE = "bench-created"
#: Machines reported by the ingest benchmark have host names starting with this (CIs of the
#: usual types, made by reconciliation); their agents have key ids starting with the other.
INGEST_HOST_PREFIX = "bench-ingest-"
INGEST_KEY_PREFIX = "agt_bench_"

_T0 = time.monotonic()


def log(*parts: Any) -> None:
    """A diagnostic line on stderr, stamped with the seconds since start."""
    print(f"[bench {time.monotonic() - _T0:7.1f}s]", *parts, file=sys.stderr, flush=True)


# --- figures ------------------------------------------------------------------------------


@dataclass
class Context:
    """What every benchmark needs: where the database is, how big the run is, the data sizes."""

    database_url: str
    scale: float = 1.0
    sizes: dict[str, int] = field(default_factory=dict)  # {"cis": …, "relationships": …}

    def emit(
        self, bench: str, case: str, metric: str, value: float, n: int, **extra: Any
    ) -> dict[str, Any]:
        """Print one figure as a JSON line on stdout."""
        record = {
            "bench": bench,
            "case": case,
            "metric": metric,
            "value": round(float(value), 3),
            "n": int(n),
            "db": "postgresql",
            **self.sizes,
            **extra,
        }
        print(json.dumps(record), flush=True)
        return record

    def duration(self, full_seconds: float = 10.0, minimum: float = 3.0) -> float:
        """A load duration that shrinks with --scale but never below `minimum` seconds."""
        return max(minimum, full_seconds * self.scale)


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100) with linear interpolation between closest ranks."""
    if not values:
        return math.nan
    data = sorted(values)
    if len(data) == 1:
        return float(data[0])
    rank = (len(data) - 1) * p / 100.0
    low = math.floor(rank)
    high = math.ceil(rank)
    return float(data[low] + (data[high] - data[low]) * (rank - low))


# --- the bench database -------------------------------------------------------------------


def check_postgres_url(url: str) -> None:
    scheme = urlsplit(url).scheme
    if scheme not in {"postgres", "postgresql", "pgsql"}:
        raise SystemExit(
            f"bench: refusing to run against {scheme or 'a non-PostgreSQL'} database "
            f"({url!r}); pass --database-url postgres://…"
        )


def psycopg_conninfo(url: str, dbname: str | None = None) -> str:
    """A libpq URL for psycopg (it does not know the `postgres://` alias of dj-database-url)."""
    parts = urlsplit(url)
    path = f"/{dbname}" if dbname is not None else parts.path
    return urlunsplit(("postgresql", parts.netloc, path, parts.query, ""))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def ensure_database(url: str) -> None:
    """Create the bench database (connecting to the `postgres` db) if it does not exist."""
    import psycopg
    from psycopg import sql

    name = database_name(url)
    with psycopg.connect(psycopg_conninfo(url, "postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            log(f"creating database {name}")
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


#: The production configuration has a Redis cache (cached permissions and list pages); a run
#: without it measures the uncached path. BENCH_REDIS_URL=none disables it everywhere.
BENCH_REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")


def bench_env(url: str, cache: bool = True) -> dict[str, str]:
    """Environment of the app under test: production settings, plain HTTP on loopback."""
    env = dict(os.environ)
    env.pop("REDIS_URL", None)
    if cache and BENCH_REDIS_URL != "none":
        env["REDIS_URL"] = BENCH_REDIS_URL
    env.update(
        {
            "DATABASE_URL": url,
            "DEBUG": "0",
            "SECRET_KEY": "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFG",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "0",
            "SESSION_COOKIE_SECURE": "0",
            "CSRF_COOKIE_SECURE": "0",
            "SECURE_HSTS_SECONDS": "0",
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "itsm.settings",
            # An existing (empty) STATIC_ROOT: whitenoise warns at every start without one.
            "STATIC_ROOT": str(STATIC_ROOT),
        }
    )
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
    # Never the developer's broker or cache: tasks run eagerly, cache is per process.
    env.pop("CELERY_BROKER_URL", None)
    env.pop("TEST_DB_NAME", None)
    return env


def migrate(url: str) -> None:
    log("manage.py migrate")
    started = time.monotonic()
    result = subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=bench_env(url),
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit("bench: migrate failed")
    log(f"migrated in {time.monotonic() - started:.1f}s")


_django_ready = False
_APP_ENV_KEYS = (
    "DATABASE_URL",
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "LOG_LEVEL",
    "DJANGO_SETTINGS_MODULE",
    "STATIC_ROOT",
)


def setup_django(url: str) -> None:
    """Load Django in this process against the bench database (once)."""
    global _django_ready
    if _django_ready:
        return
    env = bench_env(url)
    for key in _APP_ENV_KEYS:
        os.environ[key] = env[key]
    os.environ.pop("CELERY_BROKER_URL", None)
    os.environ.pop("TEST_DB_NAME", None)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"]
    if engine != "django.db.backends.postgresql":
        raise SystemExit(f"bench: Django is configured for {engine}, not PostgreSQL")
    _django_ready = True


def ensure_api_token(url: str) -> str:
    """A user in the "CMDB Manager" group with an API token; returns the token key."""
    setup_django(url)
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from itsm.roles import CMDB_MANAGER
    from itsm.tokens import api_token_create

    user, _ = get_user_model().objects.get_or_create(username=BENCH_USERNAME)
    user.groups.add(Group.objects.get(name=CMDB_MANAGER))
    key, _ = api_token_create(actor=user, user=user, name="bench")  # keys are stored hashed
    return key


def delete_bench_created(url: str) -> int:
    """Delete the CIs (and their history) that the create benchmarks made."""
    setup_django(url)
    from django.db import IntegrityError, connection, transaction

    from cmdb.models import ConfigurationItem

    made = "SELECT id FROM cmdb_configurationitem WHERE ci_type_id = %s"
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT id FROM cmdb_citype WHERE slug = %s", [BENCH_CREATED_TYPE])
            row = cursor.fetchone()
            if row is None:
                return 0
            # Fast path: the rows a create writes (the CI and its history), in plain SQL.
            cursor.execute(
                "DELETE FROM itsm_auditentry WHERE content_type_id = (SELECT id FROM "
                "django_content_type WHERE app_label = 'cmdb' AND model = 'configurationitem') "
                f"AND object_id IN ({made})",
                [row[0]],
            )
            cursor.execute(f"DELETE FROM cmdb_statuschange WHERE ci_id IN ({made})", [row[0]])
            cursor.execute("DELETE FROM cmdb_configurationitem WHERE ci_type_id = %s", [row[0]])
            deleted = cursor.rowcount
    except IntegrityError:
        # Something else points at them (a newer model): let the ORM follow every relation.
        deleted, _ = ConfigurationItem.objects.filter(ci_type__slug=BENCH_CREATED_TYPE).delete()
    if deleted:
        log(f"deleted {deleted} bench-created CIs")
    return deleted


# --- gunicorn -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    """`gunicorn itsm.wsgi -w 2` on a free loopback port, production settings, no access log."""

    def __init__(
        self,
        url: str,
        workers: int = 2,
        timeout: int = 300,
        cache: bool = True,
        env: dict[str, str] | None = None,
    ):
        self.cache = cache
        self.extra_env = dict(env or {})  # on top of bench_env (e.g. a Celery broker)
        self.url = url
        self.workers = workers
        self.timeout = timeout
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        fd, self._log_path = tempfile.mkstemp(prefix="bench-gunicorn-", suffix=".log")
        self._log = os.fdopen(fd, "wb")

    def start(self) -> None:
        gunicorn = str(Path(PYTHON).with_name("gunicorn"))
        cmd = [
            gunicorn,
            "itsm.wsgi",
            "-w",
            str(self.workers),
            "-b",
            f"127.0.0.1:{self.port}",
            "--timeout",
            str(self.timeout),
            "--log-level",
            "warning",
        ]
        log("starting", " ".join(cmd[1:]))
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env={**bench_env(self.url, cache=self.cache), **self.extra_env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.wait_ready()

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(
                    f"gunicorn exited with {self.proc.returncode}:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=2) as response:
                    if response.status == 200:
                        # Both workers import the app lazily on their first request: warm them.
                        for _ in range(self.workers * 4):
                            urllib.request.urlopen(f"{self.base}/healthz", timeout=10).read()
                        log(f"gunicorn ready on {self.base} (pid {self.proc.pid})")
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn not ready after {timeout}s:\n{self.log_tail()}")

    def worker_pids(self) -> list[int]:
        if self.proc is None:
            return []
        out = subprocess.run(
            ["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True
        ).stdout
        return [int(pid) for pid in out.split()]

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        log("gunicorn stopped")

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = Path(self._log_path).read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def close(self) -> None:
        self.stop()
        tail = self.log_tail()
        if tail.strip():
            log("gunicorn log (tail):\n" + tail)
        self._log.close()
        with contextlib.suppress(OSError):
            os.unlink(self._log_path)


@contextlib.contextmanager
def gunicorn(
    url: str, workers: int = 2, cache: bool = True, env: dict[str, str] | None = None
) -> Iterator[Gunicorn]:
    server = Gunicorn(url, workers=workers, cache=cache, env=env)
    try:
        server.start()
        yield server
    finally:
        server.close()
