"""The CMDB's plain SQL, kept where bench/README.md shows it pays: the impact walk (one
recursive CTE), the software catalogue look-ups and installations of the agent path (one
array parameter instead of hundreds of placeholders) and the CSV import's batched UPDATE
(`bulk_update` doubled the import's update time: bench/import_csv.py, see bench/README.md).

Rules: every value is bound; the text holds only table and column names, taken from the
models' `_meta` into the module constants below (or, for `update_cis`, from the fields the
caller names). Each function has a test comparing it with the equivalent ORM query on
PostgreSQL and SQLite (tests/cmdb/test_sql.py). Everything else in the app uses the ORM.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection, connections, router

from .models import (
    ConfigurationItem,
    InstalledSoftware,
    Relationship,
    SoftwareProduct,
    SoftwareVersion,
)

CI_TABLE = ConfigurationItem._meta.db_table
RELATIONSHIP_TABLE = Relationship._meta.db_table
PRODUCT_TABLE = SoftwareProduct._meta.db_table
VERSION_TABLE = SoftwareVersion._meta.db_table
INSTALLED_TABLE = InstalledSoftware._meta.db_table

# --- impact analysis ----------------------------------------------------------------------

#: Portable walk (SQLite and any SQL database): the recursive CTE's UNION keeps each (CI,
#: depth) pair once, so cycles end at the depth limit; a CI reachable at several depths is
#: expanded once per depth.
_WALK_PORTABLE = """
WITH RECURSIVE walk(node, depth) AS (
    SELECT CAST(%(root)s AS BIGINT), 0
  UNION
    SELECT r.{next_col}, w.depth + 1
    FROM walk w
    JOIN {relationships} r ON r.{this_col} = w.node
    WHERE w.depth < %(depth)s
),
reached AS (
    SELECT node, MIN(depth) AS depth FROM walk GROUP BY node ORDER BY 2, 1 LIMIT %(cap)s
)
"""

#: PostgreSQL walk: a breadth-first search inside one recursive CTE. Each row is a whole
#: level (the frontier and every CI visited so far, as arrays), so every CI is expanded once,
#: at its shortest depth, and the walk stops as soon as the cap is reached.
_WALK_POSTGRES = """
WITH RECURSIVE bfs(depth, frontier, visited) AS (
    SELECT 0, ARRAY[%(root)s]::bigint[], ARRAY[%(root)s]::bigint[]
  UNION ALL
    SELECT b.depth + 1, nxt.ids, b.visited || nxt.ids
    FROM bfs b
    CROSS JOIN LATERAL (
        SELECT coalesce(array_agg(s.node), '{{}}') AS ids FROM (
            SELECT r.{next_col} AS node FROM {relationships} r WHERE r.{this_col} = ANY(b.frontier)
            EXCEPT
            SELECT unnest(b.visited)
        ) s
    ) nxt
    WHERE b.depth < %(depth)s AND cardinality(b.frontier) > 0 AND cardinality(b.visited) <= %(cap)s
),
reached AS MATERIALIZED (
    SELECT f.node, b.depth FROM bfs b CROSS JOIN LATERAL unnest(b.frontier) AS f(node)
    ORDER BY b.depth, f.node LIMIT %(cap)s
)
"""

#: Nodes (with what a tree shows) and the edges among them, in one round trip.
_NODES_AND_EDGES = """
SELECT 'n', n.node, n.depth, ci.name, ci.ci_type_id, ci.status
FROM reached n
JOIN {cis} ci ON ci.id = n.node
UNION ALL
SELECT 'e', r.source_id, r.target_id, NULL, r.type_id, NULL
FROM reached a
JOIN {relationships} r ON r.{this_col} = a.node
JOIN reached b ON b.node = r.{next_col}
WHERE a.depth < %(depth)s
"""


def _impact_sql(walk: str, *, downstream: bool) -> str:
    this_col, next_col = ("source_id", "target_id") if downstream else ("target_id", "source_id")
    return (walk + _NODES_AND_EDGES).format(
        this_col=this_col, next_col=next_col, relationships=RELATIONSHIP_TABLE, cis=CI_TABLE
    )


#: (PostgreSQL?, downstream?) → the whole statement.
IMPACT_SQL = {
    (postgres, downstream): _impact_sql(
        _WALK_POSTGRES if postgres else _WALK_PORTABLE, downstream=downstream
    )
    for postgres in (True, False)
    for downstream in (True, False)
}


def impact_rows(*, root_id: int, downstream: bool, depth: int, cap: int) -> list[tuple]:
    """The walk from `root_id`, `depth` hops along relationships (source→target when
    `downstream`, else target→source), in one statement: the `cap` nearest CIs (by shortest
    depth, then id) as `("n", id, depth, name, ci_type_id, status)` and the relationships
    among them that leave a CI nearer than `depth` as `("e", source_id, target_id, None,
    type_id, None)`. On PostgreSQL a breadth-first walk that stops at the cap; elsewhere a
    portable recursive CTE. ORM equivalent: one query per level (see the test)."""
    sql = IMPACT_SQL[(connection.vendor == "postgresql", downstream)]
    with connection.cursor() as cursor:
        cursor.execute(sql, {"root": root_id, "depth": depth, "cap": cap})
        return cursor.fetchall()


# --- software catalogue (agent reports) ----------------------------------------------------

PRODUCTS_SELECT = f"SELECT name_key, vendor_key, id FROM {PRODUCT_TABLE}"
VERSIONS_SELECT = f"SELECT product_id, version, id FROM {VERSION_TABLE}"


VERSIONS_BY_NAME_SELECT = (
    f"SELECT p.name_key, p.vendor_key, v.version, v.id FROM {PRODUCT_TABLE} p "
    f"JOIN {VERSION_TABLE} v ON v.product_id = p.id"
)


def versions_by_name_key(name_keys: Iterable[str]) -> list[tuple[str, str, str, int]]:
    """`(name_key, vendor_key, version, id)` of every catalogue version of the products with
    one of these name keys: what `products_by_name_key` then `versions_by_product` give, in
    one statement (enough when everything asked for is catalogued already, as it is after the
    first machine). ORM: `SoftwareVersion.objects.filter(product__name_key__in=…)
    .values_list("product__name_key", "product__vendor_key", "version", "id")`."""
    return _where_in(VERSIONS_BY_NAME_SELECT, "p.name_key", name_keys)


def _where_in(select: str, column: str, values: Iterable[Any]) -> list[tuple]:
    """`select` WHERE `column` IN `values`. PostgreSQL gets one array parameter: binding and
    planning hundreds of placeholders costs more than the query itself."""
    values = list(values)
    if not values:
        return []
    if connection.vendor == "postgresql":
        where, params = f"{column} = ANY(%s)", [values]
    else:
        where, params = f"{column} IN ({', '.join(['%s'] * len(values))})", values
    with connection.cursor() as cursor:
        cursor.execute(f"{select} WHERE {where}", params)
        return cursor.fetchall()


def products_by_name_key(name_keys: Iterable[str]) -> list[tuple[str, str, int]]:
    """`(name_key, vendor_key, id)` of the catalogue products with one of these name keys.
    ORM: `SoftwareProduct.objects.filter(name_key__in=…).values_list("name_key",
    "vendor_key", "id")`."""
    return _where_in(PRODUCTS_SELECT, "name_key", name_keys)


def versions_by_product(product_ids: Iterable[int]) -> list[tuple[int, str, int]]:
    """`(product_id, version, id)` of every catalogue version of these products.
    ORM: `SoftwareVersion.objects.filter(product_id__in=…).values_list("product_id",
    "version", "id")`."""
    return _where_in(VERSIONS_SELECT, "product_id", product_ids)


#: A CI (locked on PostgreSQL) with those of its installed packages whose product name key is
#: one of a list: a left join, so the CI's row comes back when none is installed.
_INSTALLED_BY_NAME = (
    f"SELECT ci.name, i.id, p.name_key, p.vendor_key, v.version, p.name, p.vendor "
    f"FROM {CI_TABLE} ci LEFT JOIN ({INSTALLED_TABLE} i "
    f"JOIN {VERSION_TABLE} v ON v.id = i.software_id "
    f"JOIN {PRODUCT_TABLE} p ON p.id = v.product_id AND p.name_key {{name_keys}}) "
    "ON i.ci_id = ci.id WHERE ci.id = %s{lock}"
)


def installed_by_name_locked(
    *, ci_id: int, name_keys: Iterable[str]
) -> tuple[str, list[tuple[int, str, str, str, str, str]]] | None:
    """Lock CI `ci_id` (`FOR UPDATE` on PostgreSQL, as `select_for_update` does; SQLite
    locks the database on the first write) and read those of its installed packages whose
    product name key is one of `name_keys`, in one statement: `(the CI's name, [(installed
    id, name_key, vendor_key, version, name, vendor), …])`, or None when there is no such CI.
    ORM: `ConfigurationItem.objects.select_for_update().filter(pk=…).values_list("name")`,
    then `InstalledSoftware.objects.filter(ci_id=…, software__product__name_key__in=…)
    .values_list("id", "software__product__name_key", …)`: two statements, each compiled
    by the ORM, for every target a deployment finishes (bench/bench_releases.py)."""
    keys = sorted(set(name_keys)) or [""]
    params: list[Any]
    if connection.vendor == "postgresql":
        where, params = "= ANY(%s)", [keys, ci_id]
        lock = " FOR UPDATE OF ci"
    else:
        where, params = f"IN ({', '.join(['%s'] * len(keys))})", [*keys, ci_id]
        lock = ""
    with connection.cursor() as cursor:
        cursor.execute(_INSTALLED_BY_NAME.format(lock=lock, name_keys=where), params)
        rows = cursor.fetchall()
    if not rows:
        return None
    return rows[0][0], [tuple(row[1:]) for row in rows if row[1] is not None]


INSTALL_VERSIONS = (
    f"INSERT INTO {INSTALLED_TABLE} (ci_id, software_id, source, installed_at) "
    "SELECT %s, v, %s, %s FROM unnest(%s::bigint[]) AS v ON CONFLICT DO NOTHING"
)


def install_versions(
    *, ci_id: int, version_ids: Iterable[int], source: str, at: dt.datetime
) -> None:
    """Record catalogue versions as installed on a CI, leaving already installed ones alone:
    one statement with one array and no model instances (a new machine brings hundreds).
    PostgreSQL only; elsewhere `InstalledSoftware.objects.bulk_create(…,
    ignore_conflicts=True)` does the same."""
    with connection.cursor() as cursor:
        cursor.execute(INSTALL_VERSIONS, [ci_id, source, at, sorted(version_ids)])


# --- CSV import: many CIs updated at once --------------------------------------------------


def update_cis(cis: Sequence[ConfigurationItem], fields: Sequence[str]) -> None:
    """Write `fields` of every CI in a few statements, whatever the number of rows: what
    `ConfigurationItem.objects.bulk_update(cis, fields)` does, in half the time.

    `bulk_update` builds a `CASE WHEN id = … THEN …` per row and field. Instead: on
    PostgreSQL one `UPDATE … FROM (VALUES …)` per 1,000 rows; elsewhere one parametrised
    UPDATE run by `executemany` (prepared once). Lock the rows first: every named field is
    written, changed or not.
    """
    meta = ConfigurationItem._meta
    columns: list[Any] = [meta.get_field(name) for name in fields]  # concrete fields
    pk_field: Any = meta.pk
    db = connections[router.db_for_write(ConfigurationItem)]
    quote = db.ops.quote_name
    table, pk = quote(meta.db_table), quote(pk_field.column)
    rows = [
        [column.get_db_prep_save(getattr(ci, column.attname), db) for column in columns] + [ci.pk]
        for ci in cis
    ]
    with db.cursor() as cursor:
        if db.vendor != "postgresql":
            assignments = ", ".join(f"{quote(c.column)} = %s" for c in columns)
            cursor.executemany(f"UPDATE {table} SET {assignments} WHERE {pk} = %s", rows)
            return
        casts = [c.cast_db_type(db) for c in columns] + [pk_field.cast_db_type(db)]
        row_sql = "(" + ", ".join(f"%s::{cast}" for cast in casts) + ")"
        names = [quote(f"v_{c.column}") for c in columns] + [quote("v_pk")]
        assignments = ", ".join(
            f"{quote(c.column)} = v.{n}" for c, n in zip(columns, names[:-1], strict=True)
        )
        for start in range(0, len(rows), 1000):
            chunk = rows[start : start + 1000]
            cursor.execute(
                f"UPDATE {table} SET {assignments} FROM (VALUES "
                + ", ".join([row_sql] * len(chunk))
                + f") AS v({', '.join(names)}) WHERE {table}.{pk} = v.{quote('v_pk')}",
                [value for row in chunk for value in row],
            )
