"""Run the benchmarks: one JSON object per figure per line on stdout, diagnostics on stderr.

    python bench/run.py [--only impact,ci_list,…,releases] [--scale S]   (names: BENCHES below)
                        [--database-url postgres://…] [--connections 4]

`make bench BENCH_ARGS="--scale 0.05"` runs the same code on a small dataset. The database
(default postgres://postgres@127.0.0.1:5432/itsm_bench) is created, migrated and filled with
the generated dataset when missing; never the developer's SQLite file. See bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DEFAULT_DATABASE_URL, Context, check_postgres_url, log

BENCHES = (
    "impact",
    "ci_list",
    "ci_create",
    "bulk_create",
    "ingest",
    "changes",
    "incident_create",
    "releases",
    "problems",
    "cab",
    "agent_deploy",
    "queue",
)
API_BENCHES = ("ci_list", "ci_create", "bulk_create")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="ITSM/CMDB benchmarks (JSON lines on stdout)")
    parser.add_argument(
        "--only", default=",".join(BENCHES), help=f"comma-separated subset of {','.join(BENCHES)}"
    )
    parser.add_argument("--scale", type=float, default=1.0, help="data size and durations")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL),
        help="PostgreSQL URL of the bench database (default %(default)s; env BENCH_DATABASE_URL)",
    )
    parser.add_argument(
        "--connections", type=int, default=4, help="concurrent clients of the API load"
    )
    args = parser.parse_args(argv)
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(only) - set(BENCHES))
    if unknown or not only:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {', '.join(BENCHES)}")
    if args.scale <= 0:
        parser.error("--scale must be positive")
    check_postgres_url(args.database_url)

    started = time.monotonic()
    from generate import prepare

    sizes = prepare(args.database_url, args.scale)
    ctx = Context(args.database_url, args.scale, sizes)
    failed = []
    if "impact" in only:
        try:
            import bench_impact

            bench_impact.run(ctx)
        except Exception:
            traceback.print_exc()
            failed.append("impact")
    api = [name for name in API_BENCHES if name in only]
    if api:
        try:
            import bench_api

            bench_api.run(ctx, api, connections=args.connections)
        except Exception:
            traceback.print_exc()
            failed += api
    if "ingest" in only:
        try:
            import bench_ingest

            bench_ingest.run(ctx, connections=args.connections)
        except Exception:
            traceback.print_exc()
            failed.append("ingest")
    if "changes" in only:
        try:
            import bench_changes

            bench_changes.run(ctx)
        except Exception:
            traceback.print_exc()
            failed.append("changes")
    if "incident_create" in only:
        try:
            import bench_incidents

            bench_incidents.run(ctx, connections=args.connections)
        except Exception:
            traceback.print_exc()
            failed.append("incident_create")
    if "releases" in only:
        try:
            import bench_releases

            bench_releases.run(ctx)
        except Exception:
            traceback.print_exc()
            failed.append("releases")
    if "problems" in only:
        try:
            import bench_problems

            bench_problems.run(ctx)
        except Exception:
            traceback.print_exc()
            failed.append("problems")
    if "cab" in only:
        try:
            import bench_cab

            bench_cab.run(ctx)
        except Exception:
            traceback.print_exc()
            failed.append("cab")
    if "agent_deploy" in only:
        try:
            import bench_agent_deploy

            bench_agent_deploy.run(ctx)
        except Exception:
            traceback.print_exc()
            failed.append("agent_deploy")
    if "queue" in only:
        try:
            import bench_queue

            bench_queue.run(ctx)
        except Exception:
            traceback.print_exc()
            failed.append("queue")
    log(f"done in {time.monotonic() - started:.0f}s" + (f"; FAILED: {failed}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
