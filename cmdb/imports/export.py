"""Exporting CIs and relationships as CSV in the columns the import accepts (streamed)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.db.models import QuerySet

from .. import fields
from ..models import ConfigurationItem, Relationship
from .reading import CI_COLUMNS, FORMULA_START, RELATIONSHIP_COLUMNS

_MANAGED, _ATTRIBUTES = CI_COLUMNS.index("managed"), CI_COLUMNS.index("attributes")


class _Line:
    """A file-like object whose `write` hands back the line csv.writer produced."""

    def write(self, value: str) -> str:
        return value


def _safe(value: Any) -> Any:
    """Guard text a spreadsheet would run as a formula with an apostrophe (removed on import)."""
    if isinstance(value, str) and value[:1] in FORMULA_START and value:
        return "'" + value
    return value


def _csv_lines(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([_safe(v) for v in row])


def export_cis(queryset: QuerySet[ConfigurationItem]) -> Iterator[str]:
    """CSV lines (header first) of the CIs of `queryset`, in the columns the import accepts.

    Streams with a database iterator: 100,000 CIs never sit in memory at once. The file
    re-imports as "unchanged" rows.
    """
    rows = queryset.values_list(*fields.CSV_PATHS).iterator(chunk_size=2000)

    def shaped() -> Iterator[list[Any]]:
        for row in rows:
            values = list(row)
            values[_MANAGED] = "true" if values[_MANAGED] else "false"
            values[_ATTRIBUTES] = json.dumps(
                values[_ATTRIBUTES] or {}, ensure_ascii=False, sort_keys=True
            )
            yield ["" if v is None else v for v in values]

    return _csv_lines(CI_COLUMNS, shaped())


def export_relationships(queryset: QuerySet[Relationship]) -> Iterator[str]:
    """CSV lines (header first) of `source,target,type` with CI ids; re-imports as unchanged."""
    rows = queryset.values_list("source_id", "target_id", "type__slug").iterator(chunk_size=5000)
    return _csv_lines(RELATIONSHIP_COLUMNS, rows)
