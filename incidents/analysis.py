"""Root-cause comparison: what do the affected CIs have in common that comparable unaffected
ones lack?

For each installed software version and each scalar attribute value, count the affected CIs
and the baseline CIs that have it (in the database: one grouped query per kind — plain SQL on
PostgreSQL, `incidents.sql`, joining the id sets with `unnest` and reading attributes with
`jsonb_each`; the ORM and one pass over the attribute column elsewhere), then test each row with Fisher's exact test
(one-sided: more common among the affected; `fisher_greater`) on the 2x2 table

    [[affected with, affected without], [baseline with, baseline without]]

and rank by p-value, then by ratio of shares. Rows seen on fewer than `min_affected` affected
CIs, or not more common among them than in the baseline, are left out.
"""

from __future__ import annotations

import json
import math
from typing import Any, TypedDict

import numpy as np
from django.db import connection
from django.db.models import Count, Q, QuerySet
from scipy.stats import hypergeom

from cmdb.models import ConfigurationItem, InstalledSoftware

from . import sql

DEFAULT_LIMIT = 50
#: A value must be seen on at least this share of the affected CIs (and on 2 of them) to be
#: ranked: a value on one crashing machine out of forty explains nothing.
MIN_AFFECTED_SHARE = 0.05
MIN_AFFECTED_CIS = 2


class CompareRow(TypedDict):
    kind: str
    name: str
    value: str
    affected_count: int
    baseline_count: int
    affected_share: float
    baseline_share: float
    ratio: float | None
    p_value: float


def default_baseline(affected: QuerySet[ConfigurationItem]) -> QuerySet[ConfigurationItem]:
    """CIs of the affected CIs' types that are not affected themselves."""
    return ConfigurationItem.objects.filter(
        ci_type__in=affected.values("ci_type_id").distinct()
    ).exclude(pk__in=affected.values("pk"))


def compare(
    *,
    affected: QuerySet[ConfigurationItem],
    baseline: QuerySet[ConfigurationItem] | None = None,
    limit: int = DEFAULT_LIMIT,
    min_affected: int | None = None,
) -> dict[str, Any]:
    """`{"affected_count", "baseline_count", "results": [row, …]}`, most distinctive first.

    A row: `kind` ("software" | "attribute"), `name` (product or attribute key), `value`
    (version or attribute value), `affected_share`, `baseline_share`, `ratio` (null when the
    baseline never has it), `p_value`, and the raw counts. CIs in both sets count as affected.
    """
    affected_ids = list(affected.order_by().values_list("pk", flat=True).distinct())
    if baseline is None:
        baseline = default_baseline(ConfigurationItem.objects.filter(pk__in=affected_ids))
    affected_set = set(affected_ids)
    baseline_ids = [
        pk
        for pk in baseline.order_by().values_list("pk", flat=True).distinct()
        if pk not in affected_set
    ]
    n_a, n_b = len(affected_ids), len(baseline_ids)
    result: dict[str, Any] = {"affected_count": n_a, "baseline_count": n_b, "results": []}
    if not n_a or not n_b:
        return result
    k = min_affected or max(MIN_AFFECTED_CIS, math.ceil(MIN_AFFECTED_SHARE * n_a))
    counts = [("software", *row) for row in software_counts(affected_ids, baseline_ids, k)]
    counts += [("attribute", *row) for row in attribute_counts(affected_ids, baseline_ids, k)]
    p_values = fisher_greater([a for *_, a, _ in counts], [b for *_, b in counts], n_a, n_b)
    rows = [
        _row(kind, name, value, a, b, n_a, n_b, p)
        for (kind, name, value, a, b), p in zip(counts, p_values, strict=True)
    ]
    rows = [r for r in rows if r["affected_share"] > r["baseline_share"]]
    rows.sort(key=_rank)
    result["results"] = rows[:limit]
    return result


def _rank(row: CompareRow) -> tuple:
    ratio = row["ratio"] if row["ratio"] is not None else math.inf
    return (row["p_value"], -ratio, -row["affected_share"], row["kind"], row["name"], row["value"])


def fisher_greater(a: list[int], b: list[int], n_a: int, n_b: int) -> list[float]:
    """One-sided Fisher's exact test of each row's table [[a, n_a - a], [b, n_b - b]]: the
    probability, with the margins fixed, of at least `a` affected CIs having the value.

    That is the upper tail of the hypergeometric distribution, which is what
    `scipy.stats.fisher_exact(table, alternative="greater")` computes for a 2x2 table; here it
    is evaluated for every row in one vectorised call (`hypergeom.sf`) instead of hundreds of
    calls (the test suite checks both agree).
    """
    if not a:
        return []
    hits, total = np.asarray(a), np.asarray(a) + np.asarray(b)
    p = hypergeom.sf(hits - 1, n_a + n_b, total, n_a)
    return [float(min(1.0, max(0.0, v))) for v in p]


def _row(
    kind: str, name: str, value: str, a: int, b: int, n_a: int, n_b: int, p_value: float
) -> CompareRow:
    affected_share, baseline_share = a / n_a, b / n_b
    return {
        "kind": kind,
        "name": name,
        "value": value,
        "affected_count": a,
        "baseline_count": b,
        "affected_share": round(affected_share, 4),
        "baseline_share": round(baseline_share, 4),
        "ratio": round(affected_share / baseline_share, 3) if baseline_share else None,
        "p_value": p_value,
    }


def software_counts(
    affected_ids: list[int], baseline_ids: list[int], min_affected: int
) -> list[tuple[str, str, int, int]]:
    """(product name, version, affected CIs, baseline CIs) per installed software version
    seen on at least `min_affected` affected CIs: one grouped query (plain SQL joining the id
    sets on PostgreSQL, the ORM elsewhere). Products of different vendors with the same name
    stay separate rows."""
    if connection.vendor == "postgresql":
        rows = sql.software_counts(affected_ids, baseline_ids, min_affected)
    else:
        rows = software_counts_portable(affected_ids, baseline_ids, min_affected)
    return [(name, version, a, b) for _pk, name, version, a, b in sorted(rows)]


def software_counts_portable(
    affected_ids: list[int], baseline_ids: list[int], min_affected: int
) -> list[tuple[int, str, str, int, int]]:
    """`software_counts` with the ORM (any database): (version id, name, version, a, b)."""
    in_affected = Q(ci_id__in=affected_ids)
    in_baseline = Q(ci_id__in=baseline_ids)
    rows = (
        InstalledSoftware.objects.filter(in_affected | in_baseline)
        .values_list("software_id", "software__product__name", "software__version")
        .annotate(a=Count("pk", filter=in_affected), b=Count("pk", filter=in_baseline))
        .filter(a__gte=min_affected)
        .order_by()
    )
    return [(pk, name, version, a, b) for pk, name, version, a, b in rows]


def attribute_counts(
    affected_ids: list[int], baseline_ids: list[int], min_affected: int
) -> list[tuple[str, str, int, int]]:
    """(key, value, affected CIs, baseline CIs) per scalar top-level attribute value seen on
    at least `min_affected` affected CIs. PostgreSQL groups in the database (`jsonb_each`);
    other databases read the attribute column once and count here."""
    if connection.vendor == "postgresql":
        return sql.attribute_counts(affected_ids, baseline_ids, min_affected)
    return attribute_counts_portable(affected_ids, baseline_ids, min_affected)


def attribute_counts_portable(
    affected_ids: list[int], baseline_ids: list[int], min_affected: int
) -> list[tuple[str, str, int, int]]:
    """`attribute_counts` on any database: one read of the attribute column, counted here."""
    affected_set = set(affected_ids)
    tally: dict[tuple[str, str], list[int]] = {}
    rows = ConfigurationItem.objects.filter(
        Q(pk__in=affected_ids) | Q(pk__in=baseline_ids)
    ).values_list("pk", "attributes")
    for pk, attributes in rows.iterator(chunk_size=2000):
        for key, value in (attributes or {}).items():
            if isinstance(value, dict | list) or value is None:
                continue
            text = value if isinstance(value, str) else json.dumps(value)
            counts = tally.setdefault((key, text), [0, 0])
            counts[0 if pk in affected_set else 1] += 1
    return sorted((key, value, a, b) for (key, value), (a, b) in tally.items() if a >= min_affected)


#: At most this many CI ids in one selection.
MAX_IDS = 100_000


def ci_selection(spec: Any, *, what: str = "affected") -> QuerySet[ConfigurationItem]:
    """The CIs a comparison body selects: `{"ids": [...]}` or `{"filter": {<cmdb/cis/ query
    parameters>}}` (the CMDB's CI FilterSet, so the same parameters work; unknown ones are
    refused). Raises `ApplicationError` (400) on anything else, unknown ids, or no CI."""
    from django.http import QueryDict

    from cmdb.filtersets import CIFilterSet
    from itsm.exceptions import ApplicationError

    def refuse(message: str) -> ApplicationError:
        return ApplicationError(message, extra={what: [message]})

    if not isinstance(spec, dict) or len(spec) != 1 or not ({"ids", "filter"} & set(spec)):
        raise refuse('Give either {"ids": [...]} or {"filter": {...}}.')
    if "ids" in spec:
        ids = spec["ids"]
        if not isinstance(ids, list) or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in ids
        ):
            raise refuse("ids must be a list of CI ids (integers).")
        if len(ids) > MAX_IDS:
            raise refuse(f"At most {MAX_IDS} ids.")
        wanted = set(ids)
        queryset = ConfigurationItem.objects.filter(pk__in=wanted)
        found = set(queryset.values_list("pk", flat=True))
        missing = sorted(wanted - found)
        if missing:
            raise refuse(f"Unknown CIs: {', '.join(map(str, missing[:20]))}.")
        if not found:
            raise refuse("Select at least one CI.")
        return ConfigurationItem.objects.filter(pk__in=sorted(found))
    params = spec["filter"]
    if not isinstance(params, dict):
        raise refuse("filter must be an object of CI list query parameters.")
    unknown = sorted(set(params) - set(CIFilterSet.base_filters))
    if unknown:
        raise refuse(f"Unknown filter parameters: {', '.join(unknown)}.")
    data = QueryDict(mutable=True)
    for key, value in params.items():
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str | int | float | bool) for v in values):
            raise refuse(f"Filter {key}: give a value or a list of values.")
        data.setlist(key, [str(v).lower() if isinstance(v, bool) else str(v) for v in values])
    filterset = CIFilterSet(data, queryset=ConfigurationItem.objects.all())
    if not filterset.is_valid():
        errors = "; ".join(f"{k}: {' '.join(v)}" for k, v in filterset.errors.items())
        raise refuse(f"Invalid filter: {errors}")
    queryset = filterset.qs
    if not queryset.exists():
        raise refuse("No CI matches this filter.")
    return queryset
