"""The CMDB REST API through gunicorn (2 sync workers, production settings) over loopback.

Cases (token auth as a user of the "CMDB Manager" group):

- ci_list   `GET /healthz` (baseline_healthz: a bare Django view, the ceiling of the stack),
            `GET /api/v1/cmdb/cis/?ci_type=server&status=production&page_size=50` (page_50) and
            `?ci_type=virtual-machine&status=production&page_size=1000` (page_1000):
            req_per_s, p50_ms, p95_ms under a closed-loop load of `--connections` clients.
- ci_create `POST /api/v1/cmdb/cis/` of one CI (unique name and serial number, attributes
            validated against a server-like JSON Schema): req_per_s, p50_ms, p95_ms.
- bulk_create `POST` of a list: 10,000 CIs in one request, and 10 requests of 1,000:
            cis_per_s (wall time of the requests, response included).

The load generator is `wrk` (C, not the bottleneck) with bench/wrk_report.lua; without wrk, a
multi-process Python client. CIs made here have the type `bench-created` and are deleted at
the end (and at the start, after an interrupted run).
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    BENCH_CREATED_TYPE,
    BENCH_REDIS_URL,
    Context,
    Gunicorn,
    delete_bench_created,
    ensure_api_token,
    gunicorn,
    log,
    percentile,
    setup_django,
)

HERE = Path(__file__).resolve().parent
CIS_PATH = "/api/v1/cmdb/cis/"
LIST_CASES = {
    "page_50": "?ci_type=server&status=production&page_size=50",
    "page_1000": "?ci_type=virtual-machine&status=production&page_size=1000",
}
BULK_FULL = 10_000
#: A server-like schema for the bench-created type, so creates pay for attribute validation.
BENCH_SCHEMA = {
    "type": "object",
    "properties": {
        "os": {"type": "string", "maxLength": 200},
        "environment": {"enum": ["production", "staging", "test", "development"]},
        "cpu_cores": {"type": "integer", "minimum": 1},
        "memory_mb": {"type": "integer", "minimum": 0},
    },
    "required": ["os"],
}
ALL = ("ci_list", "ci_create", "bulk_create")


def _ci_body(name: str) -> dict:
    return {
        "name": name,
        "ci_type": BENCH_CREATED_TYPE,
        "status": "production",
        "hostname": f"{name.replace('_', '-')}.example.net",  # RFC 1123: no "_"
        "serial_number": f"SN-{name}",
        "attributes": {
            "os": "Debian GNU/Linux",
            "environment": "production",
            "cpu_cores": 8,
            "memory_mb": 16384,
        },
    }


# --- load generators ----------------------------------------------------------------------


def wrk_load(
    url: str, token: str, seconds: float, connections: int, threads: int, env: dict | None = None
) -> dict:
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "30s",
        "-s",
        str(HERE / "wrk_report.lua"),
        url,
    ]
    result = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        env={**os.environ, "BENCH_TOKEN": token, **(env or {})},
        timeout=seconds + 120,
    )
    line = next((s for s in result.stdout.splitlines() if s.startswith("WRKJSON ")), None)
    if result.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    stats = json.loads(line[len("WRKJSON ") :])
    stats["client"] = "wrk"
    return stats


def _py_worker(args) -> tuple[list[float], int]:
    base, path, method, token, prefix, start_at, deadline, worker = args
    parts = urlsplit(base)
    headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
    if method == "POST":
        headers["Content-Type"] = "application/json"
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    latencies, errors, counter = [], 0, 0
    time.sleep(max(0.0, start_at - time.time()))  # all workers start together
    while time.time() < deadline:
        body = None
        if method == "POST":
            counter += 1
            body = json.dumps(_ci_body(f"{prefix}-p{worker}-{counter}"))
        started = time.perf_counter()
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            errors += 1
            conn.close()
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
            continue
        latencies.append(time.perf_counter() - started)
        if response.status >= 400:
            errors += 1
        if response.will_close:
            conn.close()
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    conn.close()
    return latencies, errors


def python_load(
    base: str, path: str, token: str, seconds: float, connections: int, method="GET", prefix=""
) -> dict:
    """Fallback without wrk: `connections` processes, each a keep-alive http.client loop."""
    start_at = time.time() + 3.0  # leaves the processes time to start and import
    deadline = start_at + seconds
    jobs = [(base, path, method, token, prefix, start_at, deadline, i) for i in range(connections)]
    with multiprocessing.get_context("spawn").Pool(connections) as pool:
        results = pool.map(_py_worker, jobs)
    elapsed = seconds
    latencies = [lat * 1e6 for lats, _ in results for lat in lats]
    return {
        "requests": len(latencies),
        "duration_us": elapsed * 1e6,
        "errors_status": sum(err for _, err in results),
        "errors_connect": 0,
        "errors_read": 0,
        "errors_write": 0,
        "errors_timeout": 0,
        "p50_us": percentile(latencies, 50),
        "p95_us": percentile(latencies, 95),
        "client": f"python x{connections}",
    }


class Load:
    """Closed-loop load against one URL with wrk, or the Python fallback."""

    def __init__(self, server: Gunicorn, token: str, connections: int):
        self.server = server
        self.token = token
        self.connections = connections
        forced = os.environ.get("BENCH_CLIENT") == "python"  # to test the fallback
        self.has_wrk = shutil.which("wrk") is not None and not forced
        if not self.has_wrk:
            log("wrk not found (apt-get install wrk): using the multi-process Python client")

    def run(self, path: str, seconds: float, post_prefix: str | None = None) -> dict:
        if self.has_wrk:
            env = {"BENCH_BODY": "ci", "BENCH_PREFIX": post_prefix} if post_prefix else {}
            threads = min(2, self.connections)
            return wrk_load(
                self.server.base + path, self.token, seconds, self.connections, threads, env
            )
        method = "POST" if post_prefix else "GET"
        return python_load(
            self.server.base,
            path,
            self.token,
            seconds,
            self.connections,
            method=method,
            prefix=post_prefix or "",
        )


def _check_errors(case: str, stats: dict) -> int:
    errors = sum(stats.get(k, 0) for k in stats if k.startswith("errors_"))
    if errors:
        log(f"WARNING {case}: {errors} errors {json.dumps(stats)}")
    return errors


# --- cases --------------------------------------------------------------------------------


def _request(server: Gunicorn, token: str, method: str, path: str, body=None):
    parts = urlsplit(server.base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=600)
    headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        data = response.read()
    finally:
        conn.close()
    return response.status, data


def _emit_load(ctx: Context, bench: str, case: str, stats: dict, **extra) -> list[dict]:
    seconds = stats["duration_us"] / 1e6
    n = stats["requests"]
    extra = {"client": stats["client"], "seconds": round(seconds, 1), **extra}
    errors = _check_errors(f"{bench}/{case}", stats)
    if errors:
        extra["errors"] = errors
    return [
        ctx.emit(bench, case, "req_per_s", n / seconds, n, **extra),
        ctx.emit(bench, case, "p50_ms", stats["p50_us"] / 1000, n, **extra),
        ctx.emit(bench, case, "p95_ms", stats["p95_us"] / 1000, n, **extra),
    ]


def bench_baseline(ctx: Context, server: Gunicorn, load: Load) -> list[dict]:
    """`GET /healthz`: a bare Django view (SELECT 1, tiny JSON) through the same stack.

    The ceiling of this machine at this moment: read the other figures against it (the
    machine is shared; a low baseline means a noisy run).
    """
    load.run("/healthz", max(1.0, ctx.duration(2, 1)))
    stats = load.run("/healthz", ctx.duration(5, 3))
    return _emit_load(
        ctx,
        "ci_list",
        "baseline_healthz",
        stats,
        connections=load.connections,
        workers=server.workers,
    )


def bench_ci_list(
    ctx: Context, server: Gunicorn, load: Load, token: str, suffix: str = ""
) -> list[dict]:
    records = bench_baseline(ctx, server, load) if not suffix else []
    for case, query in LIST_CASES.items():
        case = case + suffix
        path = CIS_PATH + query
        status, data = _request(server, token, "GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}: {data[:500]!r}")
        page = json.loads(data)
        rows, count = len(page["results"]), page.get("count")
        log(f"ci_list {case}: {rows} rows of {count}, {len(data)} bytes per response")
        load.run(path, max(1.0, ctx.duration(2, 1)))  # warm-up, not reported
        stats = load.run(path, ctx.duration())
        records += _emit_load(
            ctx,
            "ci_list",
            case,
            stats,
            query=query,
            rows=rows,
            matching=count,
            connections=load.connections,
            workers=server.workers,
            cache="redis" if server.cache and BENCH_REDIS_URL != "none" else "none",
        )
    return records


def _count_created() -> int:
    from cmdb.models import ConfigurationItem

    return ConfigurationItem.objects.filter(ci_type__slug=BENCH_CREATED_TYPE).count()


def bench_ci_create(ctx: Context, server: Gunicorn, load: Load, token: str) -> list[dict]:
    run_id = f"bench-new-{int(time.time())}"
    status, data = _request(server, token, "POST", CIS_PATH, _ci_body(f"{run_id}-check"))
    if status != 201:
        raise RuntimeError(f"POST {CIS_PATH} answered {status}: {data[:500]!r}")
    load.run(CIS_PATH, max(1.0, ctx.duration(2, 1)), post_prefix=f"{run_id}-warm")
    before = _count_created()
    stats = load.run(CIS_PATH, ctx.duration(), post_prefix=f"{run_id}-run")
    made = _count_created() - before
    log(f"ci_create: {stats['requests']} requests, {made} CIs created")
    return _emit_load(
        ctx,
        "ci_create",
        "single",
        stats,
        connections=load.connections,
        workers=server.workers,
        created=made,
    )


def bench_bulk_create(ctx: Context, server: Gunicorn, token: str) -> list[dict]:
    total = max(500, round(BULK_FULL * ctx.scale))
    run_id = f"bench-bulk-{int(time.time())}"
    records = []
    plans = [
        (f"{total}_per_request", 1, total, 3),  # (case, requests, items each, repetitions)
        (f"{total // 10}_per_request", 10, total // 10, 1),
    ]
    # Warm-up: one small batch (imports, JSON Schema validator cache).
    _post_bulk(server, token, [_ci_body(f"{run_id}-warm-{i}") for i in range(100)])
    for case, requests_, size, repetitions in plans:
        rates, walls = [], []
        for rep in range(repetitions):
            batches = [
                [_ci_body(f"{run_id}-{case}-{rep}-{r}-{i}") for i in range(size)]
                for r in range(requests_)
            ]
            started = time.perf_counter()
            for batch in batches:
                _post_bulk(server, token, batch)
            wall = time.perf_counter() - started
            walls.append(wall)
            rates.append(requests_ * size / wall)
            log(f"bulk_create {case} #{rep + 1}: {requests_ * size} CIs in {wall:.2f}s")
        n = requests_ * size * repetitions
        extra = {"requests": requests_, "items_per_request": size, "repetitions": repetitions}
        records.append(
            ctx.emit("bulk_create", case, "cis_per_s", statistics.median(rates), n, **extra)
        )
        records.append(
            ctx.emit(
                "bulk_create",
                case,
                "seconds_per_request",
                statistics.median(walls) / requests_,
                n,
                **extra,
            )
        )
    return records


def _post_bulk(server: Gunicorn, token: str, batch: list[dict]) -> None:
    status, data = _request(server, token, "POST", CIS_PATH, batch)
    if status != 201:
        raise RuntimeError(f"bulk POST of {len(batch)} answered {status}: {data[:500]!r}")


def ensure_bench_type(url: str) -> None:
    setup_django(url)
    from cmdb.models import CIType

    CIType.objects.update_or_create(
        slug=BENCH_CREATED_TYPE,
        defaults={
            "name": "Bench-created CI",
            "description": "CIs made by bench/ create benchmarks; deleted after each run.",
            "attribute_schema": BENCH_SCHEMA,
            "is_hardware": True,
        },
    )


def run(ctx: Context, only=ALL, connections: int = 4) -> list[dict]:
    if BENCH_REDIS_URL != "none":
        import redis

        redis.Redis.from_url(BENCH_REDIS_URL).flushdb()  # nothing cached by an earlier dataset
    setup_django(ctx.database_url)
    token = ensure_api_token(ctx.database_url)
    ensure_bench_type(ctx.database_url)
    delete_bench_created(ctx.database_url)
    from django.db import connection

    connection.close()  # no idle transaction of ours while gunicorn works
    records = []
    try:
        with gunicorn(ctx.database_url) as server:
            load = Load(server, token, connections)
            if "ci_list" in only:
                records += bench_ci_list(ctx, server, load, token)
            if "ci_create" in only:
                records += bench_ci_create(ctx, server, load, token)
            if "bulk_create" in only:
                records += bench_bulk_create(ctx, server, token)
    finally:
        delete_bench_created(ctx.database_url)
        connection.close()
    if "ci_list" in only and BENCH_REDIS_URL != "none":
        # The same pages without the shared cache: every request queries and serialises.
        with gunicorn(ctx.database_url, cache=False) as server:
            records += bench_ci_list(
                ctx, server, Load(server, token, connections), token, suffix="_uncached"
            )
    return records


if __name__ == "__main__":
    import argparse

    from common import DEFAULT_DATABASE_URL
    from generate import prepare

    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--only", default=",".join(ALL))
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    sizes = prepare(args.database_url, args.scale)
    run(Context(args.database_url, args.scale, sizes), args.only.split(","), args.connections)
