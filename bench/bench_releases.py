"""Release deployment engine: T targets x 3 steps in 5 waves, the simulated executor without
delay, real Celery workers on Redis and PostgreSQL.

    python bench/run.py --only releases --scale 0.05     # 500 targets

Full scale is 10,000 targets (30,000 steps). Each case deploys one release with an automatic
gate per wave (100% success, no bake) and times it from the `deploy` call to the deployment's
`succeeded`, with W worker processes (`celery -A itsm worker --concurrency W`, prefork): first
2, then 1. The steps do nothing (no delay), so the time is the engine's own work: the claim
(conditional UPDATE + event), the result (conditional UPDATE + event + the next step's
dispatch), the target's finish (CMDB software written through the CMDB services, with its
history), the wave gates, and Celery's round trips through Redis.

A last case runs the same deployment in the bench process without a broker (Celery eager):
the engine's database work alone, without Redis and the workers.

Figures per case: `total_s`, `steps_per_s`, `overhead_ms_per_step` (worker time per
target-step: total x W / steps, waiting included; goal < 5 ms), `wall_ms_per_step`, and where
the time went: `worker_cpu_ms_per_step` (the CPU the worker processes used, per step) and
`postgres_cpu_ms_per_step` (the database server's, on this machine); the baseline is a bare
`SELECT 1` round trip measured in the same run. The bench process plays celery beat (it calls
the reconciler every 10 s).

Everything made here is recognisable (CI type `bench-release-target`, releases titled
`bench-release …`) and is removed at the start and the end, except the target CIs (reused).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Context, log, percentile, setup_django

FULL_TARGETS = 10_000
TYPE_SLUG = "bench-release-target"
TITLE = "bench-release"
BROKER = os.environ.get("BENCH_RELEASES_BROKER", "redis://127.0.0.1:6379/5")
STEPS = [
    {
        "phase": "install",
        "name": "Install the patch",
        "module": "install_package",
        "params": {"name": "bench-patch", "vendor": "Bench", "version": "1.0"},
        "condition": {"unless_installed": {"name": "bench-patch", "version": "1.0"}},
    },
    {"phase": "install", "name": "Restart", "module": "shell", "params": {"cmd": "true"}},
    {"phase": "verify", "name": "Check", "module": "check_software", "params": {}},
    {
        "phase": "backout",
        "name": "Remove",
        "module": "remove_package",
        "params": {"name": "bench-patch"},
    },
]
AUTO = {"kind": "automatic", "min_success_pct": 100, "bake_minutes": 0, "max_new_incidents": 0}
WAVES = [
    {"name": "Pilot (1%)", "selector": {"percent": 1}, "gate": AUTO},
    {"name": "Wave 2 (9%)", "selector": {"percent": 9}, "gate": AUTO},
    {"name": "Wave 3 (20%)", "selector": {"percent": 20}, "gate": AUTO},
    {"name": "Wave 4 (30%)", "selector": {"percent": 30}, "gate": AUTO},
    {"name": "Wave 5 (the rest)", "selector": {}, "gate": AUTO},
]


def _targets(n: int) -> int:
    from cmdb.models import CIType, ConfigurationItem, HistoryEntry, InstalledSoftware

    ci_type, _ = CIType.objects.get_or_create(
        slug=TYPE_SLUG, defaults={"name": "Bench release target"}
    )
    mine = ConfigurationItem.objects.filter(ci_type=ci_type)
    # Exactly n: the release's target filter takes every CI of the type (a smaller run after
    # a bigger one would deploy to all of them). Run after _cleanup (no deployment holds them).
    surplus = mine.filter(name__gte=f"bench-rel-{n:06d}")
    if surplus.exists():
        InstalledSoftware.objects.filter(ci__in=surplus).delete()
        HistoryEntry.objects.filter(ci__in=surplus).delete()
        surplus.delete()
    have = mine.count()
    if have < n:
        ConfigurationItem.objects.bulk_create(
            [
                ConfigurationItem(name=f"bench-rel-{i:06d}", ci_type=ci_type, status="production")
                for i in range(have, n)
            ],
            batch_size=2000,
        )
    return ci_type.pk


def _cleanup() -> None:
    from django.db import connection

    from cmdb.models import ConfigurationItem, InstalledSoftware
    from itsm.models import AuditEntry
    from releases.models import Deployment, Release, ReleasePackage, SoftwareArtifact

    Deployment.objects.filter(release__title__startswith=TITLE).delete()
    releases = Release.objects.filter(title__startswith=TITLE)
    packages = list(releases.values_list("package_id", flat=True))
    releases.delete()
    for package in ReleasePackage.objects.filter(pk__in=packages):
        artifacts = list(package.artifacts.all())
        package.delete()
        for artifact in artifacts:
            artifact.file.delete(save=False)
            artifact.delete()
    SoftwareArtifact.objects.filter(name=TITLE).delete()
    cis = ConfigurationItem.objects.filter(ci_type__slug=TYPE_SLUG)
    InstalledSoftware.objects.filter(ci__in=cis).delete()
    from django.contrib.contenttypes.models import ContentType

    AuditEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(ConfigurationItem),
        object_id__in=cis.values("pk"),
    ).delete()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _ready_release(n: int):
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile

    from changes.models import Change
    from itsm.audit import ChangeContext
    from releases import services
    from releases.models import ReadinessReview

    system = ChangeContext(actor=None, source="system")
    user, _ = get_user_model().objects.get_or_create(username="bench-release")
    stamp = f"{time.time():.0f}-{n}"
    change = Change.objects.create(
        number=f"RFC-B{stamp}"[:20], title=f"{TITLE} change", status="approved", originator=user
    )
    artifact = services.artifact_create(
        context=system,
        name=TITLE,
        version=stamp,
        author="bench",
        source="bench",
        licence="MIT",
        file=SimpleUploadedFile("bench.bin", b"bench"),
    )
    package = services.package_create(
        context=system, name=TITLE, version=stamp, artifacts=[artifact], steps=STEPS
    )
    release = services.release_create(
        context=system,
        title=f"{TITLE} {stamp}",
        target_filter={"ci_type": TYPE_SLUG},
        wave_plan=WAVES,
    )
    services.release_add_change(context=system, release_id=release.pk, change_id=change.pk)
    services.release_to_build(context=system, release_id=release.pk)
    services.release_update(context=system, release_id=release.pk, data={"package": package})
    services.release_to_acceptance(context=system, release_id=release.pk)
    services.test_result_record(
        context=system, release_id=release.pk, name="lab", passed=True, proves_backout=True
    )
    services.release_to_readiness(context=system, release_id=release.pk)
    services.readiness_update(
        context=system,
        release_id=release.pk,
        checklist={item: True for item in ReadinessReview.CHECKLIST},
    )
    services.readiness_decide(context=system, release_id=release.pk, decision="go")
    return release


def _baseline_ms() -> tuple[float, float]:
    from django.db import connection

    times = []
    with connection.cursor() as cursor:
        for _ in range(300):
            t = time.perf_counter()
            cursor.execute("SELECT 1")
            cursor.fetchone()
            times.append((time.perf_counter() - t) * 1000)
    return percentile(times, 50), percentile(times, 95)


def run(ctx: Context, workers: tuple[int, ...] = (2, 1)) -> None:
    """Deploy T targets x 3 steps in 5 waves with each worker count; print the figures."""
    setup_django(ctx.database_url)
    n = max(10, int(FULL_TARGETS * ctx.scale))
    log(f"releases: {n} targets x 3 steps, 5 waves")
    _cleanup()
    _targets(n)
    p50, p95 = _baseline_ms()
    ctx.emit("releases", "baseline_select_1", "p50_ms", p50, 300, p95_ms=round(p95, 3))
    for count in workers:
        try:
            _deploy_case(ctx, n, count)
        finally:
            _cleanup()
    try:  # last: in eager mode Celery may set up a connection to its default broker
        _in_process_case(ctx, n)
    finally:
        _cleanup()


def _in_process_case(ctx: Context, n: int) -> None:
    """The same deployment without a broker (Celery eager, the default without
    CELERY_BROKER_URL): every step runs in this process, so the figure is the engine's
    database work alone, without Redis and the worker's round trips."""
    from itsm.audit import ChangeContext
    from itsm.celery import app
    from releases import services
    from releases.engine.local import run_until_quiet
    from releases.models import DeploymentStep

    app.conf.task_always_eager = True
    release = _ready_release(n)
    started = time.monotonic()
    deployment = services.deployment_start(
        context=ChangeContext(actor=None, source="system"),
        release_id=release.pk,
        executor="simulated",
        simulation={"failure_rate": 0.0, "step_delay_ms": 0},
    )
    deployment = run_until_quiet(deployment.pk)
    total = time.monotonic() - started
    if deployment.status != "succeeded":
        raise RuntimeError(f"in-process deployment ended {deployment.status}: {deployment.reason}")
    steps = DeploymentStep.objects.filter(deployment=deployment).count()
    case = f"{n}_targets_in_process"
    common = {"targets": n, "steps": steps, "waves": 5, "workers": 0}
    ctx.emit("releases", case, "total_s", total, steps, **common)
    ctx.emit(
        "releases", case, "overhead_ms_per_step", total * 1000 / steps, steps, goal_ms=5, **common
    )


def _wait_for_worker(app, worker, timeout: float = 60.0) -> None:
    """Until the worker answers a ping (its start, under load, is not part of the figure)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        worker.check()
        if app.control.ping(timeout=0.5):
            time.sleep(0.5)  # the pool's processes come up right after the main one
            return
    raise RuntimeError("the celery worker did not answer within a minute")


def _tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of a process, its children alive, and those it reaped."""
    import psutil

    try:
        proc = psutil.Process(pid)
        times = proc.cpu_times()
        total = times.user + times.system + times.children_user + times.children_system
        for child in proc.children(recursive=True):
            try:
                child_times = child.cpu_times()
                total += child_times.user + child_times.system
            except psutil.Error:
                pass
        return total
    except psutil.Error:
        return 0.0


def _postmaster_pid() -> int | None:
    """The PostgreSQL server's main process on this machine, if it can be seen."""
    import psutil

    for proc in psutil.process_iter(["name", "ppid"]):
        if proc.info["name"] == "postgres" and proc.info["ppid"] == 1:
            return proc.pid
    return None


def _deploy_case(ctx: Context, n: int, workers: int) -> None:
    from bench_ingest import CeleryWorker
    from django.db import connections

    from itsm.audit import ChangeContext
    from itsm.celery import app
    from releases import services
    from releases.engine.advance import reconcile
    from releases.models import Deployment, DeploymentStep

    queue = f"bench-releases-{os.getpid()}-{workers}"
    env = {
        "CELERY_BROKER_URL": BROKER,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "RELEASES_REDISPATCH_SECONDS": "600",
    }
    from django.conf import settings

    # The bench process plays celery beat: its reconciler must not re-send the messages of a
    # big wave still waiting in the queue either.
    settings.RELEASES_REDISPATCH_SECONDS = int(env["RELEASES_REDISPATCH_SECONDS"])
    app.conf.broker_url = BROKER
    app.conf.task_always_eager = False
    app.conf.task_default_queue = queue
    worker = CeleryWorker(ctx.database_url, env, concurrency=workers)
    release = _ready_release(n)
    connections.close_all()
    worker.start()
    _wait_for_worker(app, worker)
    try:
        assert worker.proc is not None
        postmaster = _postmaster_pid()
        cpu_before = (_tree_cpu_s(worker.proc.pid), _tree_cpu_s(postmaster) if postmaster else 0.0)
        started = time.monotonic()
        deployment = services.deployment_start(
            context=ChangeContext(actor=None, source="system"),
            release_id=release.pk,
            executor="simulated",
            simulation={"failure_rate": 0.0, "step_delay_ms": 0},
        )
        last_reconcile = time.monotonic()
        while True:
            worker.check()
            status = Deployment.objects.values_list("status", flat=True).get(pk=deployment.pk)
            if status not in ("pending", "running"):
                break
            if time.monotonic() - last_reconcile > 10:
                reconcile()
                last_reconcile = time.monotonic()
            time.sleep(0.2)
        total = time.monotonic() - started
        worker_cpu = _tree_cpu_s(worker.proc.pid) - cpu_before[0]
        postgres_cpu = (_tree_cpu_s(postmaster) - cpu_before[1]) if postmaster else None
        steps = DeploymentStep.objects.filter(deployment=deployment).count()
        if status != "succeeded":
            raise RuntimeError(
                f"deployment ended {status}: {Deployment.objects.get(pk=deployment.pk).reason}"
            )
        case = f"{n}_targets_{workers}_worker{'s' if workers > 1 else ''}"
        common = {"targets": n, "steps": steps, "waves": 5, "workers": workers}
        ctx.emit("releases", case, "total_s", total, steps, **common)
        ctx.emit("releases", case, "steps_per_s", steps / total, steps, **common)
        ctx.emit(
            "releases",
            case,
            "overhead_ms_per_step",
            total * workers * 1000 / steps,
            steps,
            goal_ms=5,
            **common,
        )
        ctx.emit("releases", case, "wall_ms_per_step", total * 1000 / steps, steps, **common)
        # Where the time went: the workers' own CPU, and the database server's (this machine's
        # two cores are shared by both, and by the bench process).
        ctx.emit(
            "releases", case, "worker_cpu_ms_per_step", worker_cpu * 1000 / steps, steps, **common
        )
        if postgres_cpu is not None:
            ctx.emit(
                "releases",
                case,
                "postgres_cpu_ms_per_step",
                postgres_cpu * 1000 / steps,
                steps,
                **common,
            )
    finally:
        worker.stop()


def main(argv: list[str] | None = None) -> int:
    """`python bench/bench_releases.py --targets 10000`: this benchmark alone at a given size,
    on the bench database (created and migrated if need be; the CMDB dataset is not needed)."""
    import argparse

    from common import DEFAULT_DATABASE_URL, check_postgres_url, ensure_database, migrate

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=FULL_TARGETS)
    parser.add_argument("--workers", default="2,1", help="worker counts, comma-separated")
    parser.add_argument(
        "--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    args = parser.parse_args(argv)
    check_postgres_url(args.database_url)
    ensure_database(args.database_url)
    migrate(args.database_url)
    counts = tuple(int(w) for w in args.workers.split(",") if w.strip())
    run(Context(args.database_url, args.targets / FULL_TARGETS), workers=counts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
