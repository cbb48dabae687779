"""Submit-time impact and conflict detection of an RFC touching 50 CIs (issue 9 item 9).

Runs in-process against the bench database (Django set up, DEBUG off). On top of the CMDB
dataset (100k CIs at scale 1) it keeps M scheduled changes (10,000 at scale 1; titles start
with `bench-changes`), each on 1-5 CIs with windows spread over a year and an impact set of
its CIs and their neighbours two hops downstream (ChangeImpact rows), reused when the count
matches.

Each sample raises a draft on 50 typical CIs (servers, databases, applications; fixed seed)
with a window somewhere in that year, then times, inside a transaction rolled back afterwards:

- `ripple_50`: `changes.impact.ripple` alone (the CMDB's impact walk per CI, united);
- `submit_50`: `services.change_submit` (impact stored, risk, approval rule, change log);
- `conflicts_50`: `selectors.conflicts_for` on the submitted RFC;
- `submit_and_conflicts_50`: the two together: the figure with the goal (p95 < 200 ms);
- `calendar_conflicts_week`: `selectors.conflicts` over a week of the calendar (the
  `changes/conflicts/` endpoint's work).

Baselines in the same run: `baseline_select_1` (a round trip) and `baseline_one_walk` (one
`cmdb.sql.impact_rows` walk, depth 3, from one of the same CIs).

    python bench/bench_changes.py [--scale 0.05] [--database-url postgres://…]
"""

from __future__ import annotations

import datetime as dt
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Context, log, percentile, setup_django

BENCH = "changes"
FULL_CHANGES = 10_000
SAMPLES_FULL = 100
RFC_CIS = 50
TITLE_PREFIX = "bench-changes"
USERNAME = "bench-changes"
SEED = 9
ROOT_TYPES = ("server", "database", "application")


def _candidate_cis() -> list[int]:
    from cmdb.models import ConfigurationItem

    return list(
        ConfigurationItem.objects.filter(ci_type__slug__in=ROOT_TYPES)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def ensure_changes(count: int, candidates: list[int], base: dt.datetime) -> None:
    """M scheduled changes with their impact sets (reused when already there)."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from changes.choices import BodyKind, ChangeStatus
    from changes.models import Change, ChangeImpact

    existing = Change.objects.filter(title__startswith=TITLE_PREFIX)
    if existing.count() == count and ChangeImpact.objects.filter(change__in=existing).exists():
        log(f"changes: reusing {count} scheduled changes")
        return
    started = time.monotonic()
    existing.delete()
    user, _ = get_user_model().objects.get_or_create(username=USERNAME)
    rnd = random.Random(SEED)
    with transaction.atomic():
        rows = []
        for i in range(count):
            start = base + dt.timedelta(minutes=rnd.randrange(0, 365 * 24 * 60, 30))
            rows.append(
                Change(
                    number=f"RFC-B{i:07d}",
                    title=f"{TITLE_PREFIX} {i}",
                    originator=user,
                    status=ChangeStatus.SCHEDULED,
                    approver=BodyKind.CAB,
                    planned_start=start,
                    planned_end=start + dt.timedelta(hours=rnd.randint(1, 8)),
                    implementation_plan="bench",
                    backout_plan="bench",
                )
            )
        changes = Change.objects.bulk_create(rows, batch_size=2000)
        through = Change.cis.through
        links = {
            (change.pk, ci)
            for change in changes
            for ci in rnd.sample(candidates, rnd.randint(1, 5))
        }
        through.objects.bulk_create(
            [through(change_id=c, configurationitem_id=ci) for c, ci in links], batch_size=5000
        )
        ids = [change.pk for change in changes]
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO changes_changeimpact (change_id, ci_id, depth, business_service) "
                "SELECT change_id, configurationitem_id, 0, false FROM changes_change_cis "
                "WHERE change_id = ANY(%s)",
                [ids],
            )
            for depth in (1, 2):
                cursor.execute(
                    "INSERT INTO changes_changeimpact (change_id, ci_id, depth, business_service) "
                    "SELECT DISTINCT i.change_id, r.target_id, %s, false "
                    "FROM changes_changeimpact i JOIN cmdb_relationship r ON r.source_id = i.ci_id "
                    "WHERE i.depth = %s AND i.change_id = ANY(%s) "
                    "ON CONFLICT (change_id, ci_id) DO NOTHING",
                    [depth, depth - 1, ids],
                )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE changes_change")
        cursor.execute("ANALYZE changes_change_cis")
        cursor.execute("ANALYZE changes_changeimpact")
    log(f"changes: made {count} scheduled changes in {time.monotonic() - started:.1f}s")


def run(ctx: Context) -> list[dict]:
    setup_django(ctx.database_url)
    from django.db import connection, transaction
    from django.utils import timezone

    from changes import impact, selectors, services
    from changes.models import Change, ChangeImpact
    from cmdb import sql as cmdb_sql
    from itsm.audit import ChangeContext

    n_changes = max(200, round(FULL_CHANGES * ctx.scale))
    samples = max(20, round(SAMPLES_FULL * ctx.scale))
    base = timezone.now().replace(minute=0, second=0, microsecond=0)
    candidates = _candidate_cis()
    ensure_changes(n_changes, candidates, base)
    impact_rows = ChangeImpact.objects.filter(change__title__startswith=TITLE_PREFIX).count()
    system = ChangeContext(source="system", source_ref="bench")
    rnd = random.Random(SEED + 1)
    times: dict[str, list[float]] = {
        "baseline_select_1": [],
        "baseline_one_walk": [],
        "ripple_50": [],
        "submit_50": [],
        "conflicts_50": [],
        "submit_and_conflicts_50": [],
        "calendar_conflicts_week": [],
    }
    nodes, found = [], []
    warmup = 3
    for i in range(samples + warmup):
        ci_ids = rnd.sample(candidates, RFC_CIS)
        start = base + dt.timedelta(minutes=rnd.randrange(0, 365 * 24 * 60, 30))
        with transaction.atomic():
            change = services.change_create(
                context=system,
                originator=_bench_user(),
                title="bench-changes submit",
                implementation_plan="bench",
                backout_plan="bench",
                planned_start=start,
                planned_end=start + dt.timedelta(hours=4),
            )
            change.cis.set(ci_ids)
            t0 = time.perf_counter()
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            t1 = time.perf_counter()
            cmdb_sql.impact_rows(root_id=ci_ids[0], downstream=True, depth=3, cap=5001)
            t2 = time.perf_counter()
            ripple = impact.ripple(ci_ids)
            t3 = time.perf_counter()
            services.change_submit(context=system, change=change)
            t4 = time.perf_counter()
            conflicts = selectors.conflicts_for(Change.objects.get(pk=change.pk))
            t5 = time.perf_counter()
            transaction.set_rollback(True)
        t6 = time.perf_counter()
        selectors.conflicts(start, start + dt.timedelta(days=7))
        t7 = time.perf_counter()
        if i < warmup:
            continue
        ms = lambda a, b: (b - a) * 1000  # noqa: E731
        times["baseline_select_1"].append(ms(t0, t1))
        times["baseline_one_walk"].append(ms(t1, t2))
        times["ripple_50"].append(ms(t2, t3))
        times["submit_50"].append(ms(t3, t4))
        times["conflicts_50"].append(ms(t4, t5))
        times["submit_and_conflicts_50"].append(ms(t3, t5))
        times["calendar_conflicts_week"].append(ms(t6, t7))
        nodes.append(len(ripple.depths))
        found.append(len(conflicts["conflicts"]))

    extra = {
        "changes": n_changes,
        "change_impact_rows": impact_rows,
        "rfc_cis": RFC_CIS,
        "mean_impact_nodes": round(statistics.fmean(nodes), 1),
        "mean_conflicts": round(statistics.fmean(found), 1),
    }
    records = []
    for case, values in times.items():
        for metric, p in (("p50_ms", 50), ("p95_ms", 95)):
            records.append(ctx.emit(BENCH, case, metric, percentile(values, p), len(values),
                                    **extra))  # fmt: skip
    log(
        f"changes: {samples} samples; impact {extra['mean_impact_nodes']} CIs, "
        f"{extra['mean_conflicts']} conflicting changes on average"
    )
    return records


_user = None


def _bench_user():
    global _user
    if _user is None:
        from django.contrib.auth import get_user_model

        _user, _ = get_user_model().objects.get_or_create(username=USERNAME)
    return _user


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
