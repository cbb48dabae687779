"""Problem management at scale: the trend report over N incidents and the root-cause
comparison over M CIs, each beside a baseline measured in the same run.

Runs in-process (Django set up against the bench database), so figures are the selectors' own
time without HTTP.

- Trends: N = 1,000,000 * scale incidents over the last 365 days (bulk INSERTs in chunks of
  10,000; categories, causes, departments, resolution methods and CIs drawn with fixed weights,
  one category planted to rise), then `incidents.trends.refresh` builds the summary table
  (figure `refresh_full`; incremental runs after 100 incidents change: `refresh_incremental_recent`,
  today's, and `refresh_incremental_scattered`, over the year).
  Cases `report_<group_by>_<period>` over the whole year: p50_ms / p95_ms of
  `trend_report`. Baselines: `bare_count` (SELECT COUNT(*) of the incidents table) and
  `raw_group_by` (what one grouped query over the raw incidents costs, the report's work
  without the summary table).
- Comparison: M = 10,000 * min(1, 20 * scale) desktops of a bench class, each with ~40
  installed versions of 200 products and six attributes; 2% are "affected" and all run a
  planted plug-in version that 5% of the rest run. Case `compare`: p50_ms / p95_ms of
  `incidents.analysis.compare` (default baseline); baseline `bare_count_installed`: a COUNT
  of the installed software rows of those CIs.

    python bench/bench_problems.py [--scale 0.05] [--database-url postgres://…]
"""

from __future__ import annotations

import datetime as dt
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Context, log, percentile, setup_django

BENCH = "problems"
FULL_INCIDENTS = 1_000_000
FULL_COMPARE_CIS = 10_000
CHUNK = 10_000
REPEAT = 15
NUMBER_PREFIX = "BT-"
COMPARE_TYPE = "bench-rootcause"
CATEGORIES = [
    ("Printing", 14),
    ("E-mail", 12),
    ("Network", 12),
    ("Access", 10),
    ("Hardware", 10),
    ("Software", 10),
    ("Telephony", 6),
    ("Storage", 6),
    ("Database", 5),
    ("Security", 5),
    ("Facilities", 5),
    ("Other", 5),
]
RISING = "VPN"


def _timed(fn: Callable[[], object], repeat: int = REPEAT) -> list[float]:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return times


def _emit_times(ctx: Context, case: str, times: list[float], n: int, **extra) -> list[dict]:
    return [
        ctx.emit(BENCH, case, "p50_ms", percentile(times, 50), n, **extra),
        ctx.emit(BENCH, case, "p95_ms", percentile(times, 95), n, **extra),
    ]


def _vacuum(*tables: str) -> None:
    """What autovacuum does to freshly loaded tables: statistics and the visibility map (the
    index-only scans of the comparison depend on it)."""
    from django.db import connection

    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"VACUUM ANALYZE {table}")


# --- trend data ---------------------------------------------------------------------------


def ensure_incidents(n: int) -> None:
    """N bench incidents (numbers BT-…); regenerated when the count differs."""
    from django.db import transaction
    from django.utils import timezone

    from cmdb.models import ConfigurationItem, Department
    from incidents import choices
    from incidents.models import Incident

    existing = Incident.objects.filter(number__startswith=NUMBER_PREFIX).count()
    if existing == n:
        log(f"problems: {n} bench incidents present")
        return
    if existing:
        log(f"problems: deleting {existing} bench incidents")
        Incident.objects.filter(number__startswith=NUMBER_PREFIX).delete()
    rnd = random.Random(42)
    departments = [
        Department.objects.get_or_create(name=f"Bench department {i}")[0] for i in range(8)
    ]
    ci_ids = list(ConfigurationItem.objects.order_by("?").values_list("pk", flat=True)[:5000])
    causes = list(choices.Cause.values)
    methods = getattr(choices, "ResolutionMethod", None)
    methods = list(methods.values) if methods is not None else ["fix", "workaround", "restart"]
    statuses = [s for s in choices.IncidentStatus.values if s in ("resolved", "closed")] or [
        choices.IncidentStatus.values[0]
    ]
    names, weights = zip(*CATEGORIES, strict=True)
    now = timezone.now()
    created_field = Incident._meta.get_field("created")
    log(f"problems: generating {n} incidents")
    started = time.monotonic()
    created_field.auto_now_add = False  # the bench sets the dates itself
    try:
        for offset in range(0, n, CHUNK):
            rows, links = [], []
            for i in range(offset, min(n, offset + CHUNK)):
                age = rnd.random() * 365
                category = (
                    RISING
                    if rnd.random() < 0.02 * (1 - age / 365)
                    else rnd.choices(names, weights)[0]
                )
                rows.append(
                    Incident(
                        number=f"{NUMBER_PREFIX}{i:07d}",
                        title=f"Bench incident {i}",
                        status=rnd.choice(statuses),
                        category=category,
                        cause=rnd.choice(causes),
                        department=rnd.choice(departments),
                        resolution_method=rnd.choice(methods),
                        created=now - dt.timedelta(days=age),
                    )
                )
            with transaction.atomic():
                made = Incident.objects.bulk_create(rows)
                for incident in made:
                    if ci_ids and rnd.random() < 0.7:
                        links.append(
                            Incident.cis.through(
                                incident_id=incident.pk, configurationitem_id=rnd.choice(ci_ids)
                            )
                        )
                Incident.cis.through.objects.bulk_create(links)
            if offset and offset % (CHUNK * 10) == 0:
                log(f"problems: {offset} incidents")
    finally:
        created_field.auto_now_add = True
    # As in real life, old incidents were last changed long ago (not during this generation).
    from django.db.models import F

    Incident.objects.filter(number__startswith=NUMBER_PREFIX).update(updated=F("created"))
    _vacuum("incidents_incident", "incidents_incident_cis")
    log(f"problems: {n} incidents in {time.monotonic() - started:.0f}s")


def run_trends(ctx: Context) -> list[dict]:
    from django.db import connection
    from django.db.models import F
    from django.utils import timezone

    from incidents import trends
    from incidents.models import Incident

    n = max(10_000, round(FULL_INCIDENTS * ctx.scale))
    ensure_incidents(n)
    total = Incident.objects.count()
    records = []
    today = timezone.localdate()
    start = today - dt.timedelta(days=365)
    started = time.perf_counter()
    days = trends.refresh(since=start - dt.timedelta(days=1))
    records.append(
        ctx.emit(BENCH, "refresh_full", "seconds", time.perf_counter() - started, total, days=days)
    )
    bench_incidents = Incident.objects.filter(number__startswith=NUMBER_PREFIX)
    for case, touched in (
        # the usual run: what changed in the last minutes is mostly today's incidents
        (
            "refresh_incremental_recent",
            list(bench_incidents.order_by("-created").values_list("pk", flat=True)[:100]),
        ),
        # the worst: changes scattered over the whole year (~100 days to recompute)
        (
            "refresh_incremental_scattered",
            list(bench_incidents.order_by("?").values_list("pk", flat=True)[:100]),
        ),
    ):

        def incremental(touched=touched):
            Incident.objects.filter(pk__in=touched).update(updated=timezone.now())
            return trends.refresh()

        times = _timed(incremental, repeat=5)
        records += _emit_times(ctx, case, times, total, changed=len(touched))
        Incident.objects.filter(pk__in=touched).update(updated=F("created"))
        trends.refresh()
    for group_by, period in [
        ("category", "week"),
        ("category", "month"),
        ("category", "day"),
        ("ci_type", "week"),
        ("department", "month"),
        ("cause", "week"),
    ]:
        span = start if period != "day" else today - dt.timedelta(days=89)
        report = trends.trend_report(group_by=group_by, period=period, start=span, end=today)
        times = _timed(
            lambda g=group_by, p=period, s=span: trends.trend_report(
                group_by=g, period=p, start=s, end=today
            )
        )
        records += _emit_times(
            ctx,
            f"report_{group_by}_{period}",
            times,
            total,
            groups=len(report["series"]),
            buckets=len(report["buckets"]),
            rising=",".join(report["rising"]),
        )
        log(f"problems: {group_by}/{period}: rising {report['rising']}")

    def bare_count():
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM incidents_incident")
            return cursor.fetchone()

    records += _emit_times(ctx, "bare_count", _timed(bare_count, repeat=5), total, baseline=True)

    def raw_group_by():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT date_trunc('week', created), category, COUNT(*) FROM incidents_incident "
                "WHERE created >= %s GROUP BY 1, 2",
                [start],
            )
            return cursor.fetchall()

    records += _emit_times(
        ctx, "raw_group_by", _timed(raw_group_by, repeat=5), total, baseline=True
    )
    return records


# --- comparison data ----------------------------------------------------------------------


def ensure_compare_cis(m: int) -> list[int]:
    """M desktops of the bench class with software and attributes; answers the affected ids."""
    from django.db import connection, transaction

    from cmdb.models import (
        CIType,
        ConfigurationItem,
        InstalledSoftware,
        SoftwareProduct,
        SoftwareVersion,
    )

    ci_type, _ = CIType.objects.get_or_create(
        slug=COMPARE_TYPE, defaults={"name": "Bench root-cause desktop"}
    )
    cis = ConfigurationItem.objects.filter(ci_type=ci_type)
    n_affected = max(20, m // 50)
    if cis.count() != m:
        log(f"problems: generating {m} desktops for the comparison")
        InstalledSoftware.objects.filter(ci__ci_type=ci_type).delete()
        cis.delete()
        rnd = random.Random(7)
        made = ConfigurationItem.objects.bulk_create(
            [
                ConfigurationItem(
                    ci_type=ci_type,
                    name=f"bench-rc-{i:06d}",
                    status="production",
                    attributes={
                        "os": rnd.choice(["Windows 10", "Windows 11"]),
                        "os_build": rnd.choice(["19045", "22631", "26100"]),
                        "model": rnd.choice(["EliteDesk 800", "OptiPlex 7010", "ThinkCentre"]),
                        "memory_mb": rnd.choice([8192, 16384, 32768]),
                        "encrypted": rnd.random() < 0.8,
                        "site": rnd.choice(["HQ", "Plant", "Branch"]),
                    },
                )
                for i in range(m)
            ],
            batch_size=5000,
        )
        ids = [ci.pk for ci in made]
        versions = []
        for p in range(200):
            product, _ = SoftwareProduct.objects.get_or_create(
                name_key=f"bench product {p}",
                vendor_key="",
                defaults={"name": f"Bench product {p}"},
            )
            for v in ("1.0", "1.1", "2.0"):
                versions.append(
                    SoftwareVersion.objects.get_or_create(product=product, version=v)[0].pk
                )
        plugin, _ = SoftwareProduct.objects.get_or_create(
            name_key="bench plug-in", vendor_key="", defaults={"name": "Bench plug-in"}
        )
        planted = SoftwareVersion.objects.get_or_create(product=plugin, version="2.3")[0].pk
        affected = set(ids[:n_affected]) | set(rnd.sample(ids[n_affected:], (m - n_affected) // 20))
        with (
            transaction.atomic(),
            connection.cursor() as cursor,
            cursor.copy(
                "COPY cmdb_installedsoftware (ci_id, software_id, source, installed_at) FROM STDIN"
            ) as copy,
        ):
            for pk in ids:
                chosen = set(rnd.sample(versions, 40))
                if pk in affected:
                    chosen.add(planted)
                for sw in chosen:
                    copy.write_row((pk, sw, "user", "2026-01-01T00:00:00Z"))
        _vacuum("cmdb_configurationitem", "cmdb_installedsoftware")
        log("problems: comparison data ready")
    return list(cis.order_by("pk").values_list("pk", flat=True)[:n_affected])


def run_compare(ctx: Context) -> list[dict]:
    from cmdb.models import ConfigurationItem, InstalledSoftware
    from incidents import analysis

    m = max(1000, round(FULL_COMPARE_CIS * min(1.0, 20 * ctx.scale)))
    affected_ids = ensure_compare_cis(m)
    affected = ConfigurationItem.objects.filter(pk__in=affected_ids)
    result = analysis.compare(affected=affected)
    top = result["results"][0]
    log(f"problems: compare top row {top['name']} {top['value']} p={top['p_value']:.2e}")
    times = _timed(lambda: analysis.compare(affected=affected))
    records = _emit_times(
        ctx,
        "compare",
        times,
        m,
        affected=len(affected_ids),
        rows=len(result["results"]),
        top=f"{top['name']} {top['value']}",
    )
    type_id = ConfigurationItem.objects.get(pk=affected_ids[0]).ci_type_id
    installed = InstalledSoftware.objects.filter(ci__ci_type_id=type_id)
    records += _emit_times(
        ctx,
        "bare_count_installed",
        _timed(installed.count, repeat=5),
        m,
        rows=installed.count(),
        baseline=True,
    )
    return records


def run(ctx: Context) -> list[dict]:
    setup_django(ctx.database_url)
    return run_compare(ctx) + run_trends(ctx)


if __name__ == "__main__":
    import argparse

    from common import DEFAULT_DATABASE_URL
    from generate import prepare

    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    args = parser.parse_args()
    sizes = prepare(args.database_url, args.scale)
    run(Context(args.database_url, args.scale, sizes))
