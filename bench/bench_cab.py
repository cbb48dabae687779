"""The CAB member's page with 500 RFCs waiting for their vote (issue 9 item 9).

Runs in-process against the bench database (Django set up, DEBUG off) through Django's test
client, so the figures are server time without the network. Keeps N submitted RFCs (500 at
every scale: the page's size is the point; titles start with `bench-cab`) sent to the seeded
CAB, each on 2 CIs with an impact set (its CIs and their neighbours one hop downstream), risk
reasons, a window somewhere in the next year (so conflicts are looked for among the scheduled
changes of bench_changes when present) and, on every third, a vote by another member.

Cases, each with p50/p95 server time and the query count of one request:

- `cab_page`: `GET /changes/cab/` (the first page: 50 RFCs of the N, with impact, risk,
  conflicts, blackouts and votes);
- `cab_page_last`: the last page of the same queue;
- `baseline_bare_view`: `GET /healthz` (a bare view through the same middleware);
- `baseline_rfc_list`: `GET /changes/` (the plain RFC list, 50 rows).

    python bench/bench_cab.py [--scale 0.05] [--database-url postgres://…]
"""

from __future__ import annotations

import datetime as dt
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Context, log, percentile, setup_django

BENCH = "cab"
RFCS = 500
SAMPLES_FULL = 100
TITLE_PREFIX = "bench-cab"
MEMBER = "bench-cab-member"
OTHER = "bench-cab-other"
REQUESTER = "bench-cab-requester"
SEED = 11


def _users():
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from itsm import roles

    users = get_user_model().objects
    cab_group = Group.objects.get(name=roles.CAB_MEMBER)
    member, _ = users.get_or_create(username=MEMBER)
    other, _ = users.get_or_create(username=OTHER)
    for user in (member, other):
        user.groups.add(cab_group)
    requester, _ = users.get_or_create(username=REQUESTER)
    requester.groups.add(Group.objects.get(name=roles.SERVICE_DESK))
    return member, other, requester


def ensure_rfcs(count: int) -> None:
    """N submitted RFCs awaiting the CAB, with impact rows, risk reasons and some votes."""
    from django.db import connection, transaction
    from django.utils import timezone

    from changes.choices import BodyKind, ChangeStatus, RiskLevel
    from changes.models import ApprovalBody, Change, ChangeImpact, Vote
    from cmdb.models import ConfigurationItem

    _member, other, requester = _users()
    existing = Change.objects.filter(title__startswith=TITLE_PREFIX)
    if existing.count() == count:
        log(f"cab: reusing {count} waiting RFCs")
        return
    started = time.monotonic()
    existing.delete()
    body = ApprovalBody.objects.get(name="Change Advisory Board")
    candidates = list(
        ConfigurationItem.objects.filter(ci_type__slug__in=("server", "database", "application"))
        .order_by("pk")
        .values_list("pk", flat=True)[:20000]
    )
    rnd = random.Random(SEED)
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    reasons = [
        {"factor": "impact_size", "points": 5, "detail": "The change ripples to 12 CIs."},
        {"factor": "criticality", "points": 20, "detail": "shop is high."},
    ]
    with transaction.atomic():
        rows = []
        for i in range(count):
            start = now + dt.timedelta(minutes=rnd.randrange(0, 365 * 24 * 60, 30))
            rows.append(
                Change(
                    number=f"RFC-C{i:07d}",
                    title=f"{TITLE_PREFIX} {i}",
                    originator=requester,
                    status=ChangeStatus.SUBMITTED,
                    approver=BodyKind.CAB,
                    approval_body=body,
                    submitted_at=now - dt.timedelta(minutes=count - i),
                    planned_start=start,
                    planned_end=start + dt.timedelta(hours=rnd.randint(1, 6)),
                    implementation_plan="Apply the patch, reboot, check the service.",
                    backout_plan="Restore the snapshot.",
                    risk_score=25,
                    risk=RiskLevel.MEDIUM,
                    risk_reasons=reasons,
                )
            )
        changes = Change.objects.bulk_create(rows, batch_size=1000)
        through = Change.cis.through
        links = {(c.pk, ci) for c in changes for ci in rnd.sample(candidates, 2)}
        through.objects.bulk_create(
            [through(change_id=c, configurationitem_id=ci) for c, ci in links], batch_size=5000
        )
        ids = [c.pk for c in changes]
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO changes_changeimpact (change_id, ci_id, depth, business_service) "
                "SELECT change_id, configurationitem_id, 0, false FROM changes_change_cis "
                "WHERE change_id = ANY(%s)",
                [ids],
            )
            cursor.execute(
                "INSERT INTO changes_changeimpact (change_id, ci_id, depth, business_service) "
                "SELECT DISTINCT i.change_id, r.target_id, 1, false "
                "FROM changes_changeimpact i JOIN cmdb_relationship r ON r.source_id = i.ci_id "
                "WHERE i.depth = 0 AND i.change_id = ANY(%s) "
                "ON CONFLICT (change_id, ci_id) DO NOTHING",
                [ids],
            )
        Vote.objects.bulk_create(
            Vote(change=c, voter=other, round=1, decision="approve", comment="fine", at=now)
            for c in changes[::3]
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE changes_change")
        cursor.execute("ANALYZE changes_changeimpact")
    impact = ChangeImpact.objects.filter(change_id__in=ids).count()
    log(
        f"cab: made {count} waiting RFCs ({impact} impact rows) in {time.monotonic() - started:.1f}s"
    )


def _time(client, url: str, samples: int) -> tuple[list[float], int]:
    from django.db import connection

    for _ in range(3):  # warm-up
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
    executed = []

    def count(execute, sql, params, many, context):
        executed.append(sql)
        return execute(sql, params, many, context)

    # (CaptureQueriesContext would miss them: request_started resets the queries log.)
    with connection.execute_wrapper(count):
        client.get(url)
    times = []
    for _ in range(samples):
        t0 = time.perf_counter()
        client.get(url)
        times.append((time.perf_counter() - t0) * 1000)
    return times, len(executed)


def run(ctx: Context) -> list[dict]:
    setup_django(ctx.database_url)
    from django.test import Client

    from changes.cab_views import CAB_PAGE_SIZE
    from changes.selectors import cab_pending_for

    ensure_rfcs(RFCS)
    member = _users()[0]
    waiting = cab_pending_for(member).count()
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(member)
    samples = max(20, round(SAMPLES_FULL * ctx.scale))
    last = (waiting + CAB_PAGE_SIZE - 1) // CAB_PAGE_SIZE
    cases = {
        "cab_page": "/changes/cab/",
        "cab_page_last": f"/changes/cab/?page={last}",
        "baseline_bare_view": "/healthz",
        "baseline_rfc_list": "/changes/",
    }
    records = []
    # Pages link static files: without collectstatic's manifest, plain storage names them.
    from django.conf import settings
    from django.test.utils import override_settings

    storages = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(STORAGES=storages):
        for case, url in cases.items():
            records += _case(ctx, client, case, url, samples, waiting)
    log(f"cab: {waiting} RFCs waiting for {MEMBER}; {samples} samples per case")
    return records


def _case(ctx: Context, client, case: str, url: str, samples: int, waiting: int) -> list[dict]:
    from changes.cab_views import CAB_PAGE_SIZE

    times, queries = _time(client, url, samples)
    extra = {"waiting": waiting, "page_size": CAB_PAGE_SIZE, "queries": queries}
    records = [
        ctx.emit(BENCH, case, metric, percentile(times, p), samples, **extra)
        for metric, p in (("p50_ms", 50), ("p95_ms", 95))
    ]
    records.append(ctx.emit(BENCH, case, "queries", queries, 1, waiting=waiting))
    return records


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
