"""Crash safety with real processes: Celery workers on Redis and PostgreSQL.

- `kill -9` of a worker in the middle of a deployment, another worker started: the deployment
  finishes; no attempt of a step ran twice (the simulated executor writes a row per run).
- The Redis broker flushed in the middle of a deployment (every queued message lost): the
  reconciler sends the pending steps again; the deployment finishes; nothing ran twice.

The test process plays celery beat: it calls the reconciler every second (what the
`releases-reconcile` beat entry does every 15 s in production). The reconciler times leases and
re-sends with this process's clock: it must be the real one (see tests/clock.py). When a
deployment does not finish, the failure shows its steps, the advisory locks, the broker, the
Celery app and the clock as the test process sees them.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, deque
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from releases import services
from releases.choices import DeploymentStatus, TargetState
from releases.engine.advance import reconcile
from releases.models import Deployment, DeploymentEvent, DeploymentStep, SimulatedExecution
from tests.releases.conftest import SYSTEM, make_release

ROOT = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 4
REDISPATCH_SECONDS = 3
PLAN = [
    {"name": "Pilot", "selector": {"pilot": 2}, "gate": {"kind": "automatic"}},
    {"name": "Rest", "selector": {}, "gate": {"kind": "automatic"}},
]

pytestmark = [
    pytest.mark.crash,
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def broker(settings):
    url = os.environ.get("CELERY_BROKER_URL")
    if connection.vendor != "postgresql" or not url:
        pytest.skip("needs PostgreSQL and a Celery broker (CELERY_BROKER_URL)")
    # Leases expire and lost messages are re-sent by this process's clock.
    assert abs(timezone.now() - dt.datetime.now(dt.UTC)) < dt.timedelta(seconds=5), (
        f"django.utils.timezone.now is not the real clock: {timezone.now!r}"
    )
    settings.RELEASES_LEASE_SECONDS = LEASE_SECONDS
    settings.RELEASES_REDISPATCH_SECONDS = REDISPATCH_SECONDS
    from itsm.celery import app

    queue = f"itsm-releases-test-{os.getpid()}"
    previous = (app.conf.task_always_eager, app.conf.task_default_queue)
    app.conf.task_always_eager = False
    app.conf.task_default_queue = queue
    yield url, queue
    app.conf.task_always_eager, app.conf.task_default_queue = previous


class Workers:
    """Real `celery -A itsm worker` processes on the test database."""

    def __init__(self, url: str, queue: str) -> None:
        db = connection.settings_dict
        self.env = {
            **os.environ,
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "CELERY_BROKER_URL": url,
            "CELERY_TASK_DEFAULT_QUEUE": queue,
            "RELEASES_LEASE_SECONDS": str(LEASE_SECONDS),
            "RELEASES_REDISPATCH_SECONDS": str(REDISPATCH_SECONDS),
            "DEBUG": "1",
        }
        self.url = url
        self.queue = queue
        self.processes: list[subprocess.Popen] = []
        self.logs: list[Path] = []

    def start(self, name: str) -> subprocess.Popen:
        log = Path(tempfile.mkstemp(prefix=f"celery-{name}-", suffix=".log")[1])
        self.logs.append(log)
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "itsm",
                "worker",
                "--pool=solo",
                "-Q",
                self.queue,
                "-n",
                f"{name}-{os.getpid()}@%h",
                "-l",
                "warning",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in self.logs:
            log.unlink(missing_ok=True)

    def tail(self) -> str:
        return "\n".join(log.read_text(errors="replace")[-2000:] for log in self.logs)


@pytest.fixture
def workers(broker):
    running = Workers(*broker)
    yield running
    running.stop()


def start_deployment(make_cis, n: int = 12, delay_ms: int = 400) -> Deployment:
    make_cis(n)
    release = make_release(wave_plan=PLAN)
    return services.deployment_start(
        context=SYSTEM,
        release_id=release.pk,
        executor="simulated",
        simulation={"step_delay_ms": delay_ms},
    )


#: What the last calls of the reconciler returned (deployments advanced), for a failure.
RECONCILED: deque[int] = deque(maxlen=5)


def wait_until(condition, timeout: float, *, reconcile_every: float | None = None) -> bool:
    deadline = time.time() + timeout
    last = 0.0
    RECONCILED.clear()
    while time.time() < deadline:
        if condition():
            return True
        if reconcile_every is not None and time.time() - last >= reconcile_every:
            RECONCILED.append(reconcile())
            last = time.time()
        time.sleep(0.2)
    return condition()


def diagnose(deployment: Deployment, workers: Workers) -> str:
    """The state a reconciler that does not move a deployment on should be judged by."""
    import redis

    from itsm.celery import app

    deployment.refresh_from_db()
    steps = DeploymentStep.objects.filter(deployment=deployment)
    lines = [
        f"deployment {deployment.pk}: {deployment.status} {deployment.reason!r}",
        "waves: " + ", ".join(f"{w.name} {w.status}" for w in deployment.waves.order_by("order")),
        f"targets: {dict(Counter(deployment.targets.values_list('state', flat=True)))}",
        f"steps: {dict(Counter(steps.values_list('phase', 'state', 'attempt')))}",
        *(
            f"  {row}"
            for row in steps.exclude(state__in=("succeeded", "skipped", "failed")).values(
                "pk", "state", "attempt", "dispatched_at", "lease_expires_at", "target__state"
            )[:20]
        ),
        f"clock: timezone.now is {timezone.now!r}: {timezone.now()}"
        f" (real: {dt.datetime.now(dt.UTC)})",
        f"last reconciles (deployments advanced): {list(RECONCILED)}",
        f"celery: eager={app.conf.task_always_eager} queue={app.conf.task_default_queue}",
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT l.pid, l.classid, l.objid, l.objsubid, l.granted, a.state, pg_backend_pid()"
            " FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory'"
            " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        lines.append(
            f"advisory locks (pid, key1, key2, form, granted, state, ours): {cursor.fetchall()}"
        )
    broker = redis.Redis.from_url(workers.url)
    lines.append(f"broker: {broker.llen(workers.queue)} message(s) queued, keys {broker.keys()}")
    return "\n".join(lines) + "\n" + workers.tail()


def finished(deployment: Deployment) -> bool:
    deployment.refresh_from_db()
    return deployment.status not in (DeploymentStatus.RUNNING, DeploymentStatus.PENDING)


def assert_nothing_ran_twice(deployment: Deployment) -> Counter:
    runs = Counter(SimulatedExecution.objects.values_list("step_id", "attempt"))
    assert all(n == 1 for n in runs.values()), [k for k, n in runs.items() if n > 1]
    steps = DeploymentStep.objects.filter(deployment=deployment)
    # Every step ran, and succeeded exactly once.
    succeeded = Counter(
        SimulatedExecution.objects.filter(outcome="succeeded").values_list("step_id", flat=True)
    )
    assert set(succeeded) == set(steps.values_list("pk", flat=True))
    assert all(n == 1 for n in succeeded.values())
    return runs


def test_kill_9_of_a_worker_mid_deployment(workers, make_cis):
    first = workers.start("first")
    deployment = start_deployment(make_cis)
    total = DeploymentStep.objects.filter(deployment=deployment).count() or 1
    assert wait_until(
        lambda: (
            SimulatedExecution.objects.count() >= 4
            and DeploymentStep.objects.filter(deployment=deployment, state="claimed").exists()
        ),
        60,
    ), workers.tail()
    os.kill(first.pid, signal.SIGKILL)  # mid-step: a claimed step, its message unacknowledged
    first.wait(10)
    killed_at = SimulatedExecution.objects.count()
    workers.start("second")
    assert wait_until(lambda: finished(deployment), 180, reconcile_every=1.0), diagnose(
        deployment, workers
    )
    assert deployment.status == DeploymentStatus.SUCCEEDED, deployment.reason
    assert set(deployment.targets.values_list("state", flat=True)) == {TargetState.SUCCEEDED}
    runs = assert_nothing_ran_twice(deployment)
    # The step the dead worker held was lost (its lease expired) and retried at attempt 2.
    lost = DeploymentEvent.objects.filter(
        deployment=deployment, object_type="step", to_state="lost"
    )
    assert lost.exists()
    assert any(attempt == 2 for _, attempt in runs)
    assert killed_at < DeploymentStep.objects.filter(deployment=deployment).count() * 2
    assert DeploymentStep.objects.filter(deployment=deployment).count() >= total


def test_redis_flush_mid_deployment(workers, broker, make_cis):
    import redis

    url, _ = broker
    workers.start("only")
    deployment = start_deployment(make_cis, n=12, delay_ms=150)
    # In the second wave: its ten first steps were sent at once and wait in the queue.
    assert wait_until(lambda: SimulatedExecution.objects.count() >= 8, 90), workers.tail()
    waiting = DeploymentStep.objects.filter(deployment=deployment, state="pending").count()
    redis.Redis.from_url(url).flushdb()  # every queued message is gone
    assert waiting > 1
    assert wait_until(lambda: finished(deployment), 180, reconcile_every=1.0), diagnose(
        deployment, workers
    )
    assert deployment.status == DeploymentStatus.SUCCEEDED, deployment.reason
    assert set(deployment.targets.values_list("state", flat=True)) == {TargetState.SUCCEEDED}
    assert_nothing_ran_twice(deployment)
