"""Where does impact_analysis spend its time? Per root: the walk (CTE) and the edge query.

    python bench/profile_impact.py [--depth 6] [--direction downstream] [--worst 5]

For the benchmark's typical roots, times the whole selector, then for the slowest ones and
the median one: the recursive CTE alone (and how many nodes it reached before the LIMIT), the
ORM edge query (with the part spent turning thousands of `IN (%s, …)` placeholders into SQL)
and the same edge query with two array parameters. Prints to stderr. Not part of `make bench`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_impact import typical_roots
from common import DEFAULT_DATABASE_URL, percentile, setup_django

REACH_SQL = """
WITH RECURSIVE walk(id, depth) AS (
    SELECT CAST(%s AS BIGINT), 0
  UNION
    SELECT r.{next_col}, w.depth + 1 FROM walk w JOIN cmdb_relationship r ON r.{this_col} = w.id
    WHERE w.depth < %s
)
SELECT count(*), count(DISTINCT id) FROM walk
"""
EDGES_ANY_SQL = """
SELECT r.source_id, r.target_id, t.slug
FROM cmdb_relationship r JOIN cmdb_relationshiptype t ON t.id = r.type_id
WHERE r.{this_col} = ANY(%s) AND r.{next_col} = ANY(%s)
ORDER BY r.id
"""


def ms(seconds: float) -> str:
    return f"{seconds * 1000:6.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--depth", type=int, default=6)
    parser.add_argument("--direction", default="downstream")
    parser.add_argument("--roots", type=int, default=200)
    parser.add_argument("--worst", type=int, default=5)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    args = parser.parse_args()
    setup_django(args.database_url)
    from django.db import connection

    from cmdb import sql
    from cmdb.models import ConfigurationItem, Relationship
    from cmdb.selectors import MAX_IMPACT_NODES, impact_analysis

    this_col, next_col = ("source_id", "target_id")
    if args.direction == "upstream":
        this_col, next_col = next_col, this_col
    ids, _ = typical_roots(args.roots)
    roots = list(ConfigurationItem.objects.filter(pk__in=ids))
    timed = []
    for ci in roots:
        started = time.perf_counter()
        result = impact_analysis(ci=ci, direction=args.direction, depth=args.depth)
        timed.append((time.perf_counter() - started, ci.pk, len(result.nodes), len(result.edges)))
    timed.sort(reverse=True)
    seconds = [t for t, *_ in timed]
    print(
        f"impact depth {args.depth} {args.direction}: {len(timed)} roots, "
        f"p50 {ms(percentile(seconds, 50))}, p95 {ms(percentile(seconds, 95))}",
        file=sys.stderr,
    )
    picks = [*timed[: args.worst], timed[len(timed) // 2]]
    for total, pk, n_nodes, n_edges in picks:
        started = time.perf_counter()
        rows = sql.impact_rows(
            root_id=pk,
            downstream=args.direction != "upstream",
            depth=args.depth,
            cap=MAX_IMPACT_NODES + 1,
        )
        cte = time.perf_counter() - started
        rows = sorted(((r[1], r[2]) for r in rows if r[0] == "n"), key=lambda r: (r[1], r[0]))
        with connection.cursor() as cursor:
            cursor.execute(REACH_SQL.format(this_col=this_col, next_col=next_col), [pk, args.depth])
            walk_rows, reached = cursor.fetchone()
        node_depth = {row[0]: row[1] for row in rows[:MAX_IMPACT_NODES]}
        inner = [p for p, d in node_depth.items() if d < args.depth]
        edges = Relationship.objects.filter(
            **{f"{this_col}__in": inner, f"{next_col}__in": list(node_depth)}
        ).values_list("source_id", "target_id", "type__slug")
        started = time.perf_counter()
        compiled = edges.order_by("id").query.sql_with_params()
        compile_s = time.perf_counter() - started
        started = time.perf_counter()
        list(edges.order_by("id"))
        orm = time.perf_counter() - started
        with connection.cursor() as cursor:
            started = time.perf_counter()
            cursor.execute(
                EDGES_ANY_SQL.format(this_col=this_col, next_col=next_col),
                [inner, list(node_depth)],
            )
            cursor.fetchall()
            arrays = time.perf_counter() - started
        print(
            f"root {pk}: total {ms(total)} | nodes {n_nodes} (walk reached {reached} distinct, "
            f"{walk_rows} walk rows) edges {n_edges} | statement (cmdb.sql.impact_rows) {ms(cte)} | ORM edge query {ms(orm)} "
            f"({len(compiled[1])} params, compile {ms(compile_s)}) | same with 2 arrays "
            f"{ms(arrays)}",
            file=sys.stderr,
        )


if __name__ == "__main__":
    main()
