"""Where does a signed inventory report spend its time? cProfile + SQL timings, in-process.

Sends pre-signed reports (the bodies and headers of bench/bench_ingest.py, signed by
agents.client.signing) through django.test.Client (full middleware, DEBUG off, production
settings with the Redis cache) on the bench database, with the processing task run eagerly
after commit as in production without a broker. Prints to stderr: each SQL statement of one
request with its time, the wall time per request without and with the profiler, a breakdown
by stage, and the cProfile top functions (by self time unless --sort says otherwise).
Not part of `make bench`; a tool to explain its figures. Everything it makes is deleted.

    python bench/profile_ingest.py new|unchanged|change [--n 100] [--database-url …]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_ingest import (
    REPORTS_PATH,
    Plan,
    base36,
    build_plan,
    cleanup,
    create_agents,
    make_catalogue,
    make_machines,
)
from common import BENCH_REDIS_URL, DEFAULT_DATABASE_URL, setup_django
from profile_api import QueryTimer

#: (label, file suffix, function name) of the stages of a report, for a breakdown by stage.
STAGES = [
    ("whole request (test client)", "django/test/client.py", "request"),
    ("  middleware + Django handler", "django/core/handlers/base.py", "get_response"),
    ("  DRF dispatch (view)", "rest_framework/views.py", "dispatch"),
    ("    verify_signed_request", "agents/signatures.py", "verify_signed_request"),
    ("      Signature-Input parsing (http_sf)", "agents/signatures.py", "read_signature_params"),
    ("      HTTPMessageVerifier.verify", "http_message_signatures/signatures.py", "verify"),
    ("    parse_json + structure check", "agents/schema.py", "parse_json"),
    ("    validate_report (schema)", "agents/schema.py", "validate_report"),
    ("    report_accept (store + task)", "agents/services.py", "report_accept"),
    ("      nonce_consume", "agents/services.py", "nonce_consume"),
    ("      agent_touch", "agents/services.py", "agent_touch"),
    ("      report_process (eager task)", "agents/services.py", "report_process"),
    ("        Celery apply (eager) overhead", "celery/app/task.py", "apply_async"),
    ("      content_digest", "agents/schema.py", "content_digest"),
    ("        _apply_unchanged (short path)", "agents/services.py", "_apply_unchanged"),
    ("        normalize_report", "agents/inventory/__init__.py", "normalize_report"),
    ("        reconcile", "agents/reconcile.py", "reconcile"),
    ("          decide (matching)", "agents/matching.py", "decide"),
    ("          _other_ci_with_identity", "agents/matching.py", "_other_ci_with_identity"),
    ("          _create_ci", "agents/reconcile.py", "_create_ci"),
    ("            cmdb ci_create", "cmdb/services.py", "ci_create"),
    ("            cmdb ci_update", "cmdb/services.py", "ci_update"),
    ("          _apply_fields", "agents/sections.py", "_apply_fields"),
    ("          field_owners", "agents/reconcile.py", "field_owners"),
    ("          _apply_network", "agents/sections.py", "_apply_network"),
    ("          _apply_storage", "agents/sections.py", "_apply_storage"),
    ("          _apply_software", "agents/sections.py", "_apply_software"),
    ("            software_replace", "cmdb/software_services.py", "software_replace"),
    (
        "              software_versions_resolve",
        "cmdb/software_services.py",
        "software_versions_resolve",
    ),
    (
        "            discrepancy_open_or_refresh_many (discrepancies)",
        "agents/discrepancies.py",
        "discrepancy_open_or_refresh_many",
    ),
    ("          _apply_events", "agents/sections.py", "_apply_events"),
    ("          record_change (history)", "cmdb/history.py", "record_change"),
    ("        _mark_processed", "agents/services.py", "_mark_processed"),
    ("  SQL (psycopg execute)", "psycopg/cursor.py", "execute"),
    ("  SQL executemany", "psycopg/cursor.py", "executemany"),
    ("  commit", "django/db/backends/base/base.py", "commit"),
    ("  JSON decoding", "json/decoder.py", "decode"),
    ("  JSON encoding", "json/encoder.py", "encode"),
]


#: Functions timed by --stages (wall clock, inclusive, no profiler): (module, name, label).
TIMED = [
    ("agents.signatures", "verify_signed_request", "verify_signed_request (incl. Agent query)"),
    ("agents.signatures", "read_signature_params", "  Signature-Input parsing"),
    ("http_message_signatures.signatures", "HTTPMessageVerifier.verify", "  signature + digest"),
    ("agents.schema", "parse_json", "parse_json + structure check"),
    ("agents.schema", "validate_report", "validate_report (schema)"),
    ("agents.services", "report_accept", "report_accept (transaction, incl. eager task)"),
    ("agents.services", "nonce_consume", "  nonce_consume"),
    ("agents.services", "agent_touch", "  agent_touch"),
    ("agents.services", "_enqueue", "  task.delay (eager: the whole processing)"),
    ("agents.services", "report_process", "    report_process"),
    ("agents.schema", "content_digest", "  content_digest"),
    ("agents.schema", "validate_volatile_parts", "  validate_volatile_parts (short path)"),
    ("agents.services", "_unchanged_state_id", "  _unchanged_state_id (short path check)"),
    ("agents.services", "_apply_unchanged", "      _apply_unchanged (short path)"),
    ("agents.inventory", "normalize_report", "      normalize_report"),
    ("agents.reconcile", "reconcile", "      reconcile"),
    ("agents.reconcile", "decide", "        decide (matching)"),
    ("agents.reconcile", "_other_ci_with_identity", "        _other_ci_with_identity"),
    ("agents.reconcile", "_create_ci", "        _create_ci"),
    ("agents.reconcile", "field_owners", "        field_owners"),
    ("agents.sections", "_apply_fields", "        _apply_fields"),
    ("agents.sections", "_hardware_changes", "        _hardware_changes"),
    ("agents.sections", "_apply_network", "        _apply_network"),
    ("agents.sections", "_apply_storage", "        _apply_storage"),
    ("agents.sections", "_apply_software", "        _apply_software"),
    ("cmdb.services", "software_replace", "          software_replace"),
    (
        "cmdb.software_services",
        "software_versions_resolve",
        "            software_versions_resolve",
    ),
    (
        "agents.discrepancies",
        "discrepancy_open_or_refresh_many",
        "          discrepancy_open_or_refresh_many",
    ),
    ("agents.sections", "_apply_events", "        _apply_events"),
    ("cmdb.history", "record_change", "        record_change (each)"),
    ("cmdb.services", "ci_create", "        cmdb ci_create"),
    ("cmdb.services", "ci_update", "        cmdb ci_update (each)"),
    ("agents.services", "_mark_processed", "      _mark_processed"),
    ("django.db.backends.base.base", "BaseDatabaseWrapper.commit", "COMMIT (each)"),
]


class StageTimer:
    """Wraps the TIMED functions everywhere they are referenced; sums wall time per call."""

    def __init__(self):
        import importlib

        self.totals: dict[str, list[float]] = {}
        self.undo: list[tuple[object, str, object]] = []
        for module_name, name, label in TIMED:
            module = importlib.import_module(module_name)
            owner, attr = module, name
            if "." in name:
                cls_name, attr = name.split(".")
                owner = getattr(module, cls_name)
            original = getattr(owner, attr)
            wrapper = self._wrap(original, label)
            targets = [(owner, attr)]
            if owner is module:  # also where it was imported with `from … import name`
                targets += [
                    (m, attr)
                    for m in list(sys.modules.values())
                    if m is not None and m is not module and getattr(m, attr, None) is original
                ]
            for target, target_attr in targets:
                self.undo.append((target, target_attr, original))
                setattr(target, target_attr, wrapper)

    def _wrap(self, function, label):
        import functools

        totals = self.totals.setdefault(label, [])

        @functools.wraps(function)
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                totals.append(time.perf_counter() - started)

        return timed

    def reset(self) -> None:
        for values in self.totals.values():
            values.clear()

    def restore(self) -> None:
        for target, attr, original in reversed(self.undo):
            setattr(target, attr, original)

    def report(self, requests: int, wall: float, sql: list[float]) -> str:
        lines = [f"  {wall / requests * 1000:7.2f} ms  whole request (test client), 100 %"]
        for _module, _name, label in TIMED:
            values = self.totals.get(label) or []
            if values:
                per = sum(values) / requests * 1000
                lines.append(
                    f"  {per:7.2f} ms  {label}  [{len(values) / requests:g}/request, "
                    f"{100 * per / (wall / requests * 1000):.0f} %]"
                )
        per_sql = sum(sql) / requests * 1000
        lines.append(
            f"  {per_sql:7.2f} ms  SQL statements (execute, {len(sql) / requests:g}/request), "
            f"{100 * sum(sql) / wall:.0f} %"
        )
        return "\n".join(lines)


def stage_breakdown(stats: pstats.Stats) -> str:
    cum: dict[tuple[str, str], float] = {}
    for (filename, _line, func), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():
        for _label, suffix, name in STAGES:
            if func == name and filename.endswith(suffix):
                cum[(suffix, name)] = max(cum.get((suffix, name), 0.0), ct)
    total = cum.get((STAGES[0][1], STAGES[0][2])) or 1.0
    lines = []
    for label, suffix, name in STAGES:
        seconds = cum.get((suffix, name))
        if seconds:
            lines.append(f"  {100 * seconds / total:5.1f}%  {label}")
    return "\n".join(lines)


class ParamsTimer(QueryTimer):
    """QueryTimer that also keeps each statement's parameters (for EXPLAIN)."""

    def __init__(self):
        super().__init__()
        self.statements: list[tuple[float, str, object]] = []

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            seconds = time.perf_counter() - started
            self.queries.append((seconds, sql))
            self.statements.append((seconds, sql, params))


def explain(statements, count: int) -> None:
    """EXPLAIN ANALYZE the slowest SELECTs (read-only: FOR UPDATE clauses are dropped)."""
    from django.db import connection

    selects = [s for s in statements if s[1].lstrip().upper().startswith("SELECT")]
    for seconds, sql, params in sorted(selects, key=lambda s: -s[0])[:count]:
        plain = sql.replace(" FOR UPDATE", "").replace(" SKIP LOCKED", "")
        plain = re.sub(r' OF \("[^)]*"\)', "", plain)
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + plain, params)
            plan = "\n".join("      " + row[0] for row in cursor.fetchall())
        print(f"--- {seconds * 1000:.2f} ms: {sql} {params!r}\n{plan}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("shape", choices=["new", "unchanged", "change"])
    parser.add_argument("--n", type=int, default=100, help="requests profiled")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--top", type=int, default=45)
    parser.add_argument("--sort", default="tottime")
    parser.add_argument(
        "--stages", action="store_true", help="wall time per stage instead of cProfile"
    )
    parser.add_argument(
        "--explain",
        type=int,
        default=0,
        help="EXPLAIN ANALYZE the N slowest SELECTs of one request",
    )
    args = parser.parse_args()

    if BENCH_REDIS_URL != "none":
        os.environ["REDIS_URL"] = BENCH_REDIS_URL  # the shared cache, as gunicorn has it
    setup_django(args.database_url)
    from django.db import connection
    from django.test import Client

    catalogue = make_catalogue()
    cleanup(catalogue)
    client = Client(HTTP_HOST="127.0.0.1")
    base = "http://127.0.0.1"
    run_id = base36(int(time.time()))
    warm, n = 5, args.n
    # new: one machine per request; unchanged/change: a few machines, known first.
    count = warm + n if args.shape == "new" else 10
    machines = make_machines(run_id, count, label="p")
    create_agents(machines)

    def post(plan) -> None:
        for body, headers in plan.per_worker[0]:
            meta = {
                "HTTP_" + k.upper().replace("-", "_"): v
                for k, v in headers.items()
                if k.lower() not in ("content-type", "content-length")
            }
            response = client.generic(
                "POST", REPORTS_PATH, data=body, content_type="application/json", **meta
            )
            if response.status_code != 202:
                raise SystemExit(f"{response.status_code}: {response.content[:500]!r}")

    def software(m, r):
        if args.shape == "change":
            return catalogue.upgraded if r % 2 == 0 else catalogue.packages
        return catalogue.packages

    try:
        if args.shape != "new":
            # The machines' first report (the full path), then the profiled shape.
            post(build_plan(base, "first", machines, 1, lambda m, r: catalogue.packages, 1))
        rounds = 1 if args.shape == "new" else -(-(warm + n + 1) // len(machines))
        # Round by round (each machine's reports in order), one request per item.
        signed = build_plan(base, args.shape, machines, rounds, software, 1).per_worker[0]
        plans = [Plan(args.shape, [[item]], [], 1, 0, 0) for item in signed]
        post_all = plans[:warm]
        for plan in post_all:
            post(plan)  # warm-up: imports, compiled schema, caches
        plans = plans[warm : warm + n + 1]
        timer = ParamsTimer()
        with connection.execute_wrapper(timer):
            started = time.perf_counter()
            post(plans[0])
            single = time.perf_counter() - started
        print(
            f"--- one {args.shape} report: {single * 1000:.1f} ms, {len(timer.queries)} queries, "
            f"{sum(t for t, _ in timer.queries) * 1000:.1f} ms in SQL",
            file=sys.stderr,
        )
        groups: dict[str, list[float]] = {}
        for seconds, sql in timer.queries:
            groups.setdefault(" ".join(sql.split())[:150], []).append(seconds)
        for key, times in sorted(groups.items(), key=lambda kv: -sum(kv[1])):
            print(f"  {sum(times) * 1000:8.2f} ms  x{len(times):<4d} {key}", file=sys.stderr)
        if args.explain:
            explain(timer.statements, args.explain)
        rest = plans[1:]
        if args.stages:
            stages = StageTimer()
            sql_timer = QueryTimer()
            try:
                with connection.execute_wrapper(sql_timer):
                    started = time.perf_counter()
                    for plan in rest:
                        post(plan)
                    wall = time.perf_counter() - started
            finally:
                stages.restore()
            print(
                f"--- stages of {len(rest)} {args.shape} reports (wall clock, inclusive)",
                file=sys.stderr,
            )
            print(
                stages.report(len(rest), wall, [t for t, _ in sql_timer.queries]), file=sys.stderr
            )
            return
        half = len(rest) // 2
        started = time.perf_counter()
        for plan in rest[:half]:
            post(plan)
        plain = (time.perf_counter() - started) / max(1, half)
        print(f"--- {half} requests without profiler: {plain * 1000:.1f} ms each", file=sys.stderr)
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        for plan in rest[half:]:
            post(plan)
        profiler.disable()
        profiled = len(rest) - half
        wall = time.perf_counter() - started
        print(
            f"--- {profiled} requests under cProfile: {wall / max(1, profiled) * 1000:.1f} ms each",
            file=sys.stderr,
        )
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        print("--- stages (cumulative, % of the request; nested stages overlap)", file=sys.stderr)
        print(stage_breakdown(stats), file=sys.stderr)
        if args.top:
            stats.sort_stats(args.sort).print_stats(args.top)
            print(out.getvalue(), file=sys.stderr)
    finally:
        cleanup(catalogue)


if __name__ == "__main__":
    main()
