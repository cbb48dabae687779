"""Impact analysis (`cmdb.selectors.impact_analysis`, a recursive CTE) from typical CIs.

Runs in-process (Django set up against the bench database), so the figures are the selector's
own time: the CTE, the edge query and building the result, without HTTP. Roots are ~200
"typical" CIs: servers and databases picked pseudo-randomly (fixed seed) among those whose
number of relationships is at most the 90th percentile of their type — no giant hubs.

Figures per case `depth_{3,6}_{downstream,upstream}`: p50_ms, p95_ms, mean_nodes (nodes
returned; the selector caps at MAX_IMPACT_NODES, see `truncated`).

    python bench/bench_impact.py [--scale 0.05] [--database-url postgres://…]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Context, log, percentile, setup_django

BENCH = "impact"
ROOTS_FULL = 200
DEPTHS = (3, 6)
DIRECTIONS = ("downstream", "upstream")
ROOT_TYPES = ("server", "database")

_TYPICAL_SQL = """
WITH degree AS (
    SELECT ci.id, t.slug,
           (SELECT count(*) FROM cmdb_relationship r WHERE r.source_id = ci.id)
         + (SELECT count(*) FROM cmdb_relationship r WHERE r.target_id = ci.id) AS degree
    FROM cmdb_configurationitem ci JOIN cmdb_citype t ON t.id = ci.ci_type_id
    WHERE t.slug = %(slug)s
), limit_ AS (
    SELECT percentile_disc(0.9) WITHIN GROUP (ORDER BY degree) AS p90 FROM degree
)
SELECT id FROM degree, limit_
WHERE degree BETWEEN 1 AND p90
ORDER BY md5(id::text || 'bench-impact')
LIMIT %(limit)s
"""


def typical_roots(count: int) -> tuple[list[int], list[int]]:
    """(measured roots, warm-up roots): servers and databases, half each, no hubs."""
    from django.db import connection

    per_type = count // len(ROOT_TYPES) + 10
    measured, warmup = [], []
    with connection.cursor() as cursor:
        for slug in ROOT_TYPES:
            cursor.execute(_TYPICAL_SQL, {"slug": slug, "limit": per_type})
            ids = [row[0] for row in cursor.fetchall()]
            measured += ids[: count // len(ROOT_TYPES)]
            warmup += ids[count // len(ROOT_TYPES) :]
    return measured, warmup


def run(ctx: Context) -> list[dict]:
    setup_django(ctx.database_url)
    from cmdb.models import ConfigurationItem
    from cmdb.selectors import MAX_IMPACT_NODES, impact_analysis

    n_roots = max(20, round(ROOTS_FULL * ctx.scale))
    root_ids, warmup_ids = typical_roots(n_roots)
    roots = list(ConfigurationItem.objects.select_related("ci_type").filter(pk__in=root_ids))
    roots.sort(key=lambda ci: root_ids.index(ci.pk))
    warm = list(ConfigurationItem.objects.filter(pk__in=warmup_ids))
    log(f"impact: {len(roots)} roots ({', '.join(ROOT_TYPES)}), {len(warm)} warm-up roots")
    for ci in warm:
        for direction in DIRECTIONS:
            impact_analysis(ci=ci, direction=direction, depth=max(DEPTHS))

    records = []
    for depth in DEPTHS:
        for direction in DIRECTIONS:
            case = f"depth_{depth}_{direction}"
            times_ms, nodes, truncated = [], [], 0
            by_type: dict[str, list[float]] = {}
            for ci in roots:
                started = time.perf_counter()
                result = impact_analysis(ci=ci, direction=direction, depth=depth)
                elapsed = (time.perf_counter() - started) * 1000
                times_ms.append(elapsed)
                nodes.append(len(result.nodes))
                truncated += result.truncated
                by_type.setdefault(ci.ci_type.slug, []).append(elapsed)
            n = len(times_ms)
            extra = {"depth": depth, "direction": direction, "roots": "+".join(ROOT_TYPES)}
            records.append(ctx.emit(BENCH, case, "p50_ms", percentile(times_ms, 50), n, **extra))
            records.append(ctx.emit(BENCH, case, "p95_ms", percentile(times_ms, 95), n, **extra))
            records.append(
                ctx.emit(
                    BENCH,
                    case,
                    "mean_nodes",
                    statistics.fmean(nodes),
                    n,
                    max_nodes=max(nodes),
                    truncated=truncated,
                    cap=MAX_IMPACT_NODES,
                    **extra,
                )
            )
            detail = ", ".join(
                f"{slug}: p50 {percentile(v, 50):.1f} p95 {percentile(v, 95):.1f} ms"
                for slug, v in by_type.items()
            )
            log(f"impact {case}: {detail}; max {max(times_ms):.1f} ms; {truncated} truncated")
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
