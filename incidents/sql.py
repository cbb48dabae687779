"""The incidents app's plain SQL: the root-cause comparison's two grouped counts on
PostgreSQL — attribute values (`jsonb_each`, which the ORM cannot group by) and installed
software versions.

Both join the selected CIs as a set (`unnest` of two bound id arrays, flagged affected or
baseline), so PostgreSQL hash-joins them; the ORM's `IN (…)` lists of thousands of ids, or an
`= ANY(array)` filter, compare every row with every id (4 s instead of ~100 ms over 10,000
CIs: bench/bench_problems.py).

Rules as in cmdb/sql.py: every value is bound; the text holds only table and column names
from the models' `_meta`. tests/incidents/test_analysis_sql.py compares each with the
portable path of `incidents.analysis` on the same data.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection

from cmdb.models import ConfigurationItem, InstalledSoftware, SoftwareProduct, SoftwareVersion

CI_TABLE = ConfigurationItem._meta.db_table
INSTALLED_TABLE = InstalledSoftware._meta.db_table
VERSION_TABLE = SoftwareVersion._meta.db_table
PRODUCT_TABLE = SoftwareProduct._meta.db_table

_SELECTED = """
WITH selected(id, affected) AS (
    SELECT unnest(%(affected)s::bigint[]), TRUE
  UNION ALL
    SELECT unnest(%(baseline)s::bigint[]), FALSE
)
"""

_ATTRIBUTE_COUNTS = (
    _SELECTED
    + f"""
SELECT kv.key, kv.value #>> '{{}}' AS value,
       COUNT(*) FILTER (WHERE s.affected) AS affected,
       COUNT(*) FILTER (WHERE NOT s.affected) AS baseline
FROM selected s
JOIN {CI_TABLE} ci ON ci.id = s.id
CROSS JOIN LATERAL jsonb_each(ci.attributes) AS kv
WHERE jsonb_typeof(kv.value) IN ('string', 'number', 'boolean')
GROUP BY 1, 2
HAVING COUNT(*) FILTER (WHERE s.affected) >= %(min_affected)s
"""
)

_SOFTWARE_COUNTS = (
    _SELECTED
    + f"""
, counted AS (
    SELECT i.software_id,
           COUNT(*) FILTER (WHERE s.affected) AS affected,
           COUNT(*) FILTER (WHERE NOT s.affected) AS baseline
    FROM selected s
    JOIN {INSTALLED_TABLE} i ON i.ci_id = s.id
    GROUP BY i.software_id
    HAVING COUNT(*) FILTER (WHERE s.affected) >= %(min_affected)s
)
SELECT c.software_id, p.name, v.version, c.affected, c.baseline
FROM counted c
JOIN {VERSION_TABLE} v ON v.id = c.software_id
JOIN {PRODUCT_TABLE} p ON p.id = v.product_id
"""
)


def _params(affected_ids: Sequence[int], baseline_ids: Sequence[int], min_affected: int) -> dict:
    return {
        "affected": list(affected_ids),
        "baseline": list(baseline_ids),
        "min_affected": min_affected,
    }


def attribute_counts(
    affected_ids: Sequence[int], baseline_ids: Sequence[int], min_affected: int
) -> list[tuple[str, str, int, int]]:
    """(key, value as text, affected CIs, baseline CIs) for each scalar top-level attribute
    value found on at least `min_affected` affected CIs. PostgreSQL only."""
    with connection.cursor() as cursor:
        cursor.execute(_ATTRIBUTE_COUNTS, _params(affected_ids, baseline_ids, min_affected))
        return [(k, v, int(a), int(b)) for k, v, a, b in cursor.fetchall()]


def software_counts(
    affected_ids: Sequence[int], baseline_ids: Sequence[int], min_affected: int
) -> list[tuple[int, str, str, int, int]]:
    """(software version id, product name, version, affected CIs, baseline CIs) per installed
    version found on at least `min_affected` affected CIs. PostgreSQL only."""
    with connection.cursor() as cursor:
        cursor.execute(_SOFTWARE_COUNTS, _params(affected_ids, baseline_ids, min_affected))
        return [(pk, n, v, int(a), int(b)) for pk, n, v, a, b in cursor.fetchall()]
