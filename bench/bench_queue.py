"""The help desk's queue page (`/incidents/?queue=…`): server time with N incidents.

Runs in-process (Django's test client against the bench database, the full middleware stack
and template rendering, no network), so the figures are the server's own time. Incidents are
generated in plain SQL (`generate_series`, batches of 100,000): at scale 1, 1,000,000
incidents of which `OPEN_SHARE` are open, spread over 50 service-desk agents (a quarter
unassigned, half with the Service Desk group), one CI each, created every 30 seconds back in
time (so many open ones are past due).

Figures per case `queue_{mine,team,unassigned,all}`, `queue_all_filtered` (priority + search),
`queue_counts` (the sidebar's counts, fetched by htmx once the page is shown) and the baseline `bare_view` (`/healthz` through the same client and middleware): p50_ms,
p95_ms (wall time of the request in the server process), cpu_p50_ms (the process's CPU time:
what the page costs without waiting for PostgreSQL or for a busy machine's cores) and
`queries` (the page's query count, which must not grow with N) with `db_ms_one_request`
(their time in PostgreSQL, summed, for one request).

    python bench/bench_queue.py [--scale 0.01] [--database-url postgres://…]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    DEFAULT_DATABASE_URL,
    Context,
    check_postgres_url,
    log,
    percentile,
    psycopg_conninfo,
    setup_django,
)

BENCH = "queue"
FULL_INCIDENTS = 1_000_000
OPEN_SHARE = 5  # percent of incidents still open
AGENTS = 50
BATCH = 100_000
PREFIX = "BQ-"

_INSERT = """
INSERT INTO incidents_incident (
    number, title, description, severity, impact, urgency, priority, status, category, cause,
    source, resolution_method, resolution, response_due, resolve_due, sla_breached, created,
    updated, assignee_id, assignment_group_id, caller_id, caller_role, hold_business_s,
    hold_reason, sla_cycle, sla_started_at, version, resolved_at, closed_at, on_hold_since
)
SELECT %(prefix)s || lpad(g::text, 8, '0'),
       (ARRAY['Mail does not start', 'Printer jammed', 'VPN drops', 'Laptop slow',
              'Excel crashes'])[1 + (g * 7) %% 5] || ' #' || g,
       '', 'moderate', 'medium', 'medium', 1 + (g * 13) %% 5, st.status,
       (ARRAY['email', 'printing', 'network', 'hardware', 'software'])[1 + (g * 7) %% 5],
       '', 'service_desk', '', '', c.at + interval '4 hours', c.at + interval '1 day',
       (st.status NOT IN ('resolved', 'closed') AND (g * 31) %% 17 = 0), c.at, c.at,
       CASE WHEN (g * 11) %% 4 = 0 THEN NULL
            ELSE (%(agents)s::int[])[1 + (g * 17) %% array_length(%(agents)s::int[], 1)] END,
       CASE WHEN g %% 2 = 0 THEN %(group)s::int END,
       (%(agents)s::int[])[1 + (g * 3) %% array_length(%(agents)s::int[], 1)],
       '', 0, '', 1, c.at, 1,
       CASE WHEN st.status IN ('resolved', 'closed') THEN c.at + interval '2 hours' END,
       CASE WHEN st.status = 'closed' THEN c.at + interval '3 days' END,
       CASE WHEN st.status = 'on_hold' THEN c.at + interval '1 hour' END
FROM generate_series(%(start)s::bigint, %(stop)s::bigint) AS g
CROSS JOIN LATERAL (SELECT now() - g * interval '30 seconds' AS at) AS c
CROSS JOIN LATERAL (
    SELECT CASE WHEN (g * 7919) %% 100 < %(open_share)s
                THEN (ARRAY['new', 'assigned', 'in_progress', 'on_hold', 'reopened'])[1 + g %% 5]
                WHEN g %% 2 = 0 THEN 'closed' ELSE 'resolved' END AS status
) AS st
"""

_LINK_CIS = """
INSERT INTO incidents_incident_cis (incident_id, configurationitem_id)
SELECT i.id, (%(cis)s::bigint[])[1 + (i.id %% array_length(%(cis)s::bigint[], 1))]
FROM incidents_incident i
WHERE i.number LIKE %(like)s AND i.id BETWEEN %(lo)s AND %(hi)s
"""


def ensure_agents() -> tuple[list[int], int]:
    """The bench's service-desk agents (ids) and the Service Desk group id."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from itsm.roles import SERVICE_DESK

    group = Group.objects.get(name=SERVICE_DESK)
    model = get_user_model()
    ids = []
    for i in range(AGENTS):
        user, created = model.objects.get_or_create(username=f"bench-agent-{i}")
        if created:
            user.groups.add(group)
        ids.append(user.pk)
    return ids, group.pk


def ensure_incidents(url: str, n: int) -> int:
    """Make sure `n` bench incidents exist (generated once per size; other sizes replaced)."""
    import psycopg

    setup_django(url)
    agents, group = ensure_agents()
    with psycopg.connect(psycopg_conninfo(url), autocommit=True) as conn:
        have = conn.execute(
            "SELECT count(*) FROM incidents_incident WHERE number LIKE %s", [PREFIX + "%"]
        ).fetchone()[0]
        if have == n:
            return n
        if have:
            log(f"queue: replacing {have} bench incidents")
            conn.execute(
                "DELETE FROM incidents_incident_cis WHERE incident_id IN "
                "(SELECT id FROM incidents_incident WHERE number LIKE %s)",
                [PREFIX + "%"],
            )
            conn.execute("DELETE FROM incidents_incident WHERE number LIKE %s", [PREFIX + "%"])
        cis = [
            row[0]
            for row in conn.execute(
                "SELECT id FROM cmdb_configurationitem ORDER BY id LIMIT 100000"
            ).fetchall()
        ]
        started = time.monotonic()
        for start in range(1, n + 1, BATCH):
            stop = min(n, start + BATCH - 1)
            conn.execute(
                _INSERT,
                {
                    "prefix": PREFIX,
                    "start": start,
                    "stop": stop,
                    "agents": agents,
                    "group": group,
                    "open_share": OPEN_SHARE,
                },
            )
            if cis:
                lo, hi = conn.execute(
                    "SELECT min(id), max(id) FROM incidents_incident WHERE number BETWEEN %s "
                    "AND %s",
                    [f"{PREFIX}{start:08d}", f"{PREFIX}{stop:08d}"],
                ).fetchone()
                conn.execute(_LINK_CIS, {"cis": cis, "like": PREFIX + "%", "lo": lo, "hi": hi})
            log(f"queue: {stop}/{n} incidents")
        conn.execute("VACUUM ANALYZE incidents_incident")  # as autovacuum would, by then
        conn.execute("VACUUM ANALYZE incidents_incident_cis")
        log(f"queue: generated {n} incidents in {time.monotonic() - started:.1f}s")
    return n


def _time(client, url: str, runs: int) -> tuple[list[float], list[float], int, float]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(3):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    # Read now: every request resets the log.
    count = len(queries.captured_queries)
    db_ms = sum(float(q["time"]) for q in queries.captured_queries) * 1000
    times, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        response = client.get(url)
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
        assert response.status_code == 200
    return times, cpu, count, db_ms


def run(ctx: Context, incidents: int | None = None) -> list[dict]:
    """Generate the incidents of this scale (or `incidents`), then time the queue pages, the
    queue counts (loaded by htmx after the page) and the bare view."""
    n = incidents or max(1000, round(FULL_INCIDENTS * ctx.scale))
    ensure_incidents(ctx.database_url, n)
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.test.utils import override_settings

    from incidents.choices import OPEN_STATUSES
    from incidents.models import Incident

    open_n = Incident.objects.filter(status__in=list(OPEN_STATUSES)).count()
    user = get_user_model().objects.get(username="bench-agent-0")
    # Static URLs without a collectstatic manifest (the pages link assets; none is served).
    plain = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    override_settings(STORAGES={**settings.STORAGES, "staticfiles": plain}).enable()
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    runs = max(30, round(200 * min(1.0, ctx.scale * 10)))
    cases = {
        "bare_view": "/healthz",
        "queue_mine": "/incidents/?queue=mine",
        "queue_team": "/incidents/?queue=team",
        "queue_unassigned": "/incidents/?queue=unassigned",
        "queue_all": "/incidents/?queue=all",
        "queue_all_filtered": "/incidents/?queue=all&priority=1&q=printer",
        "queue_counts": "/incidents/counts/",
    }
    records = []
    for case, url in cases.items():
        times, cpu, queries, db_ms = _time(client, url, runs)
        for metric, values, p in (
            ("p50_ms", times, 50),
            ("p95_ms", times, 95),
            ("cpu_p50_ms", cpu, 50),
        ):
            records.append(
                ctx.emit(
                    BENCH,
                    case,
                    metric,
                    percentile(values, p),
                    runs,
                    incidents=n,
                    open_incidents=open_n,
                    queries=queries,
                    db_ms_one_request=round(db_ms, 2),
                )
            )
    return records


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument(
        "--incidents", type=int, default=None, help="number of incidents (default: by scale)"
    )
    parser.add_argument(
        "--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    args = parser.parse_args(argv)
    check_postgres_url(args.database_url)
    from generate import prepare

    sizes = prepare(args.database_url, args.scale)
    run(Context(args.database_url, args.scale, sizes), incidents=args.incidents)


if __name__ == "__main__":
    main()
