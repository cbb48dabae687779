"""Incident creation through the REST API (gunicorn, 2 sync workers, production settings).

Cases (token auth as a user of the "Service Desk" group):

- baseline_healthz  `GET /healthz`: a bare Django view through the same stack (the ceiling).
- single            `POST /api/v1/incidents/` of one incident naming one CI (number from the
                    sequence, priority, SLA policy and due times, audit entry): incidents_per_s,
                    p50_ms, p95_ms under a closed-loop load of `--connections` clients.
- bulk              `POST` of a list of incidents (1,000 per request at scale 1):
                    incidents_per_s (wall time of the requests, response included).

Incidents made here have titles starting with `bench-inc-` and are deleted at the end (with
their audit entries), and at the start after an interrupted run.

    python bench/bench_incidents.py --scale 0.02 --database-url postgres://…/bench_x
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Context, ensure_api_token, gunicorn, log, percentile, setup_django

PATH = "/api/v1/incidents/"
PREFIX = "bench-inc-"
BULK_FULL = 1000


def _body(name: str, ci_id: int | None) -> dict:
    body = {
        "title": f"{PREFIX}{name}",
        "description": "Application crashes at start",
        "impact": "medium",
        "urgency": "high",
        "severity": "moderate",
        "category": "Software",
    }
    if ci_id:
        body["cis"] = [ci_id]
    return body


def _worker(args) -> tuple[list[float], int]:
    base, path, token, prefix, ci_ids, start_at, deadline, worker = args
    parts = urlsplit(base)
    headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
    if prefix is not None:
        headers["Content-Type"] = "application/json"
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    latencies, errors, counter = [], 0, 0
    time.sleep(max(0.0, start_at - time.time()))
    while time.time() < deadline:
        body = None
        method = "GET"
        if prefix is not None:
            counter += 1
            ci = ci_ids[(worker * 7919 + counter) % len(ci_ids)] if ci_ids else None
            body = json.dumps(_body(f"{prefix}-{worker}-{counter}", ci))
            method = "POST"
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


def load(base, path, token, seconds, connections, prefix=None, ci_ids=()) -> dict:
    """Closed-loop load: `connections` processes, each a keep-alive http.client loop."""
    start_at = time.time() + 3.0
    deadline = start_at + seconds
    jobs = [
        (base, path, token, prefix, list(ci_ids), start_at, deadline, i) for i in range(connections)
    ]
    with multiprocessing.get_context("spawn").Pool(connections) as pool:
        results = pool.map(_worker, jobs)
    latencies = [lat * 1000 for lats, _ in results for lat in lats]
    return {
        "requests": len(latencies),
        "seconds": seconds,
        "errors": sum(err for _, err in results),
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
    }


def _emit(ctx: Context, case: str, metric: str, stats: dict, **extra) -> None:
    n = stats["requests"]
    extra = {"seconds": stats["seconds"], "errors": stats["errors"], **extra}
    if stats["errors"]:
        log(f"WARNING {case}: {stats['errors']} errors")
    ctx.emit("incidents", case, metric, n / stats["seconds"], n, **extra)
    ctx.emit("incidents", case, "p50_ms", stats["p50_ms"], n, **extra)
    ctx.emit("incidents", case, "p95_ms", stats["p95_ms"], n, **extra)


def _request(base: str, token: str, method: str, path: str, body=None):
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=600)
    headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def delete_bench_incidents() -> int:
    """Delete what an earlier run made: incidents titled `bench-inc-…` and their audit."""
    from django.db import transaction

    from incidents.models import Incident
    from itsm.audit import content_type_id
    from itsm.models import AuditEntry

    with transaction.atomic():
        ids = list(Incident.objects.filter(title__startswith=PREFIX).values_list("pk", flat=True))
        for start in range(0, len(ids), 5000):
            chunk = ids[start : start + 5000]
            AuditEntry.objects.filter(
                content_type_id=content_type_id(Incident), object_id__in=chunk
            ).delete()
            Incident.objects.filter(pk__in=chunk).delete()
    return len(ids)


def prepare_user(url: str) -> str:
    """The bench API user, also in the Service Desk role; returns a fresh token key."""
    token = ensure_api_token(url)
    from common import BENCH_USERNAME
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from itsm.roles import SERVICE_DESK

    user = get_user_model().objects.get(username=BENCH_USERNAME)
    user.groups.add(Group.objects.get(name=SERVICE_DESK))
    return token


def run(ctx: Context, connections: int = 4) -> None:
    setup_django(ctx.database_url)
    token = prepare_user(ctx.database_url)
    from cmdb.models import ConfigurationItem
    from incidents.models import Incident

    removed = delete_bench_incidents()
    if removed:
        log(f"deleted {removed} incidents of an interrupted run")
    ci_ids = list(
        ConfigurationItem.objects.filter(ci_type__slug__in=["desktop", "laptop"])
        .order_by("id")
        .values_list("pk", flat=True)[:2000]
    )
    existing = Incident.objects.count()
    from django.db import connection

    connection.close()
    run_id = str(int(time.time()))
    try:
        with gunicorn(ctx.database_url) as server:
            status, data = _request(server.base, token, "POST", PATH, _body("check", ci_ids[0]))
            if status != 201:
                raise RuntimeError(f"POST {PATH} answered {status}: {data[:500]!r}")
            load(server.base, "/healthz", token, max(1.0, ctx.duration(2, 1)), connections)
            stats = load(server.base, "/healthz", token, ctx.duration(5, 3), connections)
            _emit(ctx, "baseline_healthz", "req_per_s", stats, connections=connections)
            load(server.base, PATH, token, 2.0, connections, f"{run_id}-warm", ci_ids)
            stats = load(
                server.base, PATH, token, ctx.duration(), connections, f"{run_id}-run", ci_ids
            )
            _emit(
                ctx,
                "single",
                "incidents_per_s",
                stats,
                connections=connections,
                existing_incidents=existing,
            )
            size = max(100, round(BULK_FULL * ctx.scale * 10))
            size = min(size, BULK_FULL)
            rates = []
            for rep in range(3):
                batch = [
                    _body(f"{run_id}-bulk-{rep}-{i}", ci_ids[i % len(ci_ids)]) for i in range(size)
                ]
                started = time.perf_counter()
                status, data = _request(server.base, token, "POST", PATH, batch)
                wall = time.perf_counter() - started
                if status != 201:
                    raise RuntimeError(f"bulk POST answered {status}: {data[:300]!r}")
                rates.append(size / wall)
                log(f"bulk #{rep + 1}: {size} incidents in {wall:.2f}s")
            ctx.emit(
                "incidents",
                "bulk",
                "incidents_per_s",
                statistics.median(rates),
                size * 3,
                items_per_request=size,
                repetitions=3,
            )
    finally:
        delete_bench_incidents()
        connection.close()


if __name__ == "__main__":
    import argparse

    from common import DEFAULT_DATABASE_URL
    from generate import prepare

    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    sizes = prepare(args.database_url, args.scale)
    run(Context(args.database_url, args.scale, sizes), args.connections)
