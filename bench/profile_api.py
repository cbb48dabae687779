"""Where does an API request spend its time? cProfile + SQL timings, in-process.

Runs one request shape N times through django.test.Client (the full middleware stack, token
auth, DEBUG off) against the bench database, and prints to stderr: the cProfile top functions
(cumulative), each SQL statement of one request with its time, and the wall time per request.
Not part of `make bench`; a tool to explain its figures.

    python bench/profile_api.py list50|list1000|create|bulk [--n 50] [--database-url …]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_api import BENCH_CREATED_TYPE, CIS_PATH, LIST_CASES, _ci_body, ensure_bench_type
from common import (
    DEFAULT_DATABASE_URL,
    delete_bench_created,
    ensure_api_token,
    setup_django,
)


class QueryTimer:
    """A connection.execute_wrapper that records (seconds, sql) of each statement."""

    def __init__(self):
        self.queries: list[tuple[float, str]] = []

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.queries.append((time.perf_counter() - started, sql))


#: (label, file suffix, function name) of the stages of a DRF request, for a breakdown by stage.
STAGES = [
    ("whole request (test client)", "django/test/client.py", "request"),
    ("  middleware + Django handler", "django/core/handlers/base.py", "get_response"),
    ("  DRF dispatch (view)", "rest_framework/views.py", "dispatch"),
    ("    token authentication", "rest_framework/authentication.py", "authenticate"),
    ("    permission check (has_perms)", "rest_framework/views.py", "check_permissions"),
    ("    filterset (django-filter)", "rest_framework/generics.py", "filter_queryset"),
    ("    pagination: COUNT + page query", "rest_framework/generics.py", "paginate_queryset"),
    ("      COUNT(*)", "django/core/paginator.py", "count"),
    ("    serializer construction (get_fields)", "rest_framework/serializers.py", "get_fields"),
    ("    input validation (is_valid)", "rest_framework/serializers.py", "is_valid"),
    ("    service ci_create", "cmdb/services.py", "ci_create"),
    ("    service ci_bulk_create", "cmdb/services.py", "ci_bulk_create"),
    ("      validate_attributes (JSON Schema)", "cmdb/services.py", "validate_attributes"),
    ("      full_clean / clean_fields", "django/db/models/base.py", "full_clean"),
    ("      bulk_create INSERT", "django/db/models/query.py", "bulk_create"),
    ("      history entries", "cmdb/history.py", "record_many"),
    ("      history entry", "cmdb/history.py", "record_change"),
    ("    output serializer .data", "rest_framework/serializers.py", "data"),
    ("    JSON rendering", "rest_framework/renderers.py", "render"),
    ("  SQL (psycopg execute)", "psycopg/cursor.py", "execute"),
    ("  JSON decoding (jsonb columns)", "json/decoder.py", "decode"),
]


def stage_breakdown(stats: pstats.Stats) -> str:
    """Cumulative time of each DRF stage, as a share of the whole request."""
    cum: dict[tuple[str, str], float] = {}
    for (filename, _line, func), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():
        for _label, suffix, name in STAGES:
            if func == name and filename.endswith(suffix):
                # Same name at several lines (BaseSerializer.data, ListSerializer.data…)
                # call each other: the outermost one holds the whole stage.
                cum[(suffix, name)] = max(cum.get((suffix, name), 0.0), ct)
    total = cum.get((STAGES[0][1], STAGES[0][2])) or 1.0
    lines = []
    for label, suffix, name in STAGES:
        seconds = cum.get((suffix, name))
        if seconds:
            lines.append(f"  {100 * seconds / total:5.1f}%  {label}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("shape", choices=["list50", "list1000", "create", "bulk"])
    parser.add_argument("--n", type=int, default=50, help="requests profiled")
    parser.add_argument("--bulk-size", type=int, default=1000)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--sort", default="cumulative")
    args = parser.parse_args()

    setup_django(args.database_url)
    from django.db import connection
    from django.test import Client

    token = ensure_api_token(args.database_url)
    ensure_bench_type(args.database_url)
    client = Client(
        HTTP_AUTHORIZATION=f"Token {token}", HTTP_ACCEPT="application/json", HTTP_HOST="127.0.0.1"
    )
    counter = {"i": 0}

    def one():
        counter["i"] += 1
        i = counter["i"]
        if args.shape == "list50":
            response = client.get(CIS_PATH + LIST_CASES["page_50"])
        elif args.shape == "list1000":
            response = client.get(CIS_PATH + LIST_CASES["page_1000"])
        elif args.shape == "create":
            response = client.post(
                CIS_PATH,
                json.dumps(_ci_body(f"bench-prof-{time.time_ns()}-{i}")),
                content_type="application/json",
            )
        else:
            batch = [
                _ci_body(f"bench-prof-{time.time_ns()}-{i}-{j}") for j in range(args.bulk_size)
            ]
            response = client.post(CIS_PATH, json.dumps(batch), content_type="application/json")
        if response.status_code >= 400:
            raise SystemExit(f"{response.status_code}: {response.content[:500]!r}")
        return response

    try:
        for _ in range(3):
            one()  # warm-up
        timer = QueryTimer()
        with connection.execute_wrapper(timer):
            started = time.perf_counter()
            one()
            single = time.perf_counter() - started
        print(
            f"--- one request: {single * 1000:.1f} ms, {len(timer.queries)} queries, "
            f"{sum(t for t, _ in timer.queries) * 1000:.1f} ms in SQL",
            file=sys.stderr,
        )
        groups: dict[str, list[float]] = {}
        for seconds, sql in timer.queries:
            groups.setdefault(" ".join(sql.split())[:110], []).append(seconds)
        for key, times in sorted(groups.items(), key=lambda kv: -sum(kv[1])):
            print(
                f"  {sum(times) * 1000:8.2f} ms  x{len(times):<5d} {key}",
                file=sys.stderr,
            )
        n = 1 if args.shape == "bulk" else args.n
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        for _ in range(n):
            one()
        profiler.disable()
        wall = time.perf_counter() - started
        print(f"--- {n} requests under cProfile: {wall / n * 1000:.1f} ms each", file=sys.stderr)
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        print("--- stages (cumulative, % of the request; nested stages overlap)", file=sys.stderr)
        print(stage_breakdown(stats), file=sys.stderr)
        if args.top:
            stats.sort_stats(args.sort).print_stats(args.top)
            print(out.getvalue(), file=sys.stderr)
    finally:
        if args.shape in {"create", "bulk"}:
            delete_bench_created(args.database_url)
    _ = BENCH_CREATED_TYPE


if __name__ == "__main__":
    main()
