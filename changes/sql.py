"""Plain SQL of change management, kept where bench/bench_changes.py shows it pays: the ripple
set of an RFC on PostgreSQL.

The CMDB's breadth-first impact walk (`cmdb.sql._WALK_POSTGRES`, one recursive CTE) starts here
from all the RFC's CIs at once instead of one walk per CI — each CI of the estate is expanded
once, at its shortest depth from any of them — and its result goes straight into
`changes_changeimpact` with `INSERT … SELECT`: the rows (thousands for 50 servers) never travel
to Python. On SQLite, `changes.impact` walks from each CI with `cmdb.sql.impact_rows` and
unites in Python; tests/changes/test_sql.py compares both.

Every value is bound; the text holds only table and column names from the models' `_meta`.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection

from cmdb import sql as cmdb_sql
from cmdb.models import ConfigurationItem, Relationship

from .models import ChangeImpact

IMPACT_TABLE = ChangeImpact._meta.db_table
CI_TABLE = ConfigurationItem._meta.db_table
RELATIONSHIP_TABLE = Relationship._meta.db_table

#: The CMDB's walk, from an array of roots (downstream: source → target).
_WALK_FROM_MANY = cmdb_sql._WALK_POSTGRES.replace(
    "ARRAY[%(root)s]::bigint[]", "%(roots)s::bigint[]"
).format(this_col="source_id", next_col="target_id", relationships=RELATIONSHIP_TABLE)
assert "%(roots)s" in _WALK_FROM_MANY and "%(root)s" not in _WALK_FROM_MANY

#: Nodes reached from the roots: (id, depth, ci_type_id).
RIPPLE_SELECT = (
    _WALK_FROM_MANY
    + f"SELECT n.node, n.depth, ci.ci_type_id FROM reached n JOIN {CI_TABLE} ci ON ci.id = n.node"
)

#: The same, written as the RFC's impact rows.
RIPPLE_INSERT = (
    _WALK_FROM_MANY + f"INSERT INTO {IMPACT_TABLE} (change_id, ci_id, depth, business_service) "
    f"SELECT %(change)s, n.node, n.depth, ci.ci_type_id = ANY(%(service_types)s::bigint[]) "
    f"FROM reached n JOIN {CI_TABLE} ci ON ci.id = n.node"
)


def ripple_rows(*, root_ids: Iterable[int], depth: int, cap: int) -> list[tuple[int, int, int]]:
    """PostgreSQL: `(ci id, shortest depth, ci_type_id)` of the `cap` CIs nearest to any root,
    `depth` hops downstream, the roots at 0."""
    roots = sorted(set(root_ids))
    with connection.cursor() as cursor:
        cursor.execute(RIPPLE_SELECT, {"roots": roots, "depth": depth, "cap": cap})
        return [tuple(row) for row in cursor.fetchall()]


def ripple_insert(
    *, change_id: int, root_ids: Iterable[int], depth: int, cap: int, service_types: Iterable[int]
) -> int:
    """PostgreSQL: write the ripple of `root_ids` as the impact rows of `change_id` (which has
    none); answers how many."""
    roots = sorted(set(root_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            RIPPLE_INSERT,
            {
                "roots": roots,
                "depth": depth,
                "cap": cap,
                "change": change_id,
                "service_types": sorted(set(service_types)),
            },
        )
        return cursor.rowcount
