"""The incidents app's plain SQL: the root-cause comparison's attribute counts, which need
PostgreSQL's `jsonb_each` (the ORM cannot group by the keys and values of a JSON column).

Rules as in cmdb/sql.py: every value is bound (the CI ids travel as two array parameters); the
text holds only table and column names from the models' `_meta`. The test
(tests/incidents/test_analysis_sql.py) compares it with the portable Python path of
`incidents.analysis` on the same data.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection

from cmdb.models import ConfigurationItem

CI_TABLE = ConfigurationItem._meta.db_table

_ATTRIBUTE_COUNTS = f"""
SELECT kv.key, kv.value #>> '{{}}' AS value,
       COUNT(*) FILTER (WHERE ci.id = ANY(%(affected)s)) AS affected,
       COUNT(*) FILTER (WHERE ci.id = ANY(%(baseline)s)) AS baseline
FROM {CI_TABLE} ci
CROSS JOIN LATERAL jsonb_each(ci.attributes) AS kv
WHERE (ci.id = ANY(%(affected)s) OR ci.id = ANY(%(baseline)s))
  AND jsonb_typeof(kv.value) IN ('string', 'number', 'boolean')
GROUP BY 1, 2
HAVING COUNT(*) FILTER (WHERE ci.id = ANY(%(affected)s)) >= %(min_affected)s
"""


def attribute_counts(
    affected_ids: Sequence[int], baseline_ids: Sequence[int], min_affected: int
) -> list[tuple[str, str, int, int]]:
    """(key, value as text, affected CIs, baseline CIs) for each scalar top-level attribute
    value found on at least `min_affected` affected CIs. PostgreSQL only."""
    with connection.cursor() as cursor:
        cursor.execute(
            _ATTRIBUTE_COUNTS,
            {
                "affected": list(affected_ids),
                "baseline": list(baseline_ids),
                "min_affected": min_affected,
            },
        )
        return [(k, v, int(a), int(b)) for k, v, a, b in cursor.fetchall()]
