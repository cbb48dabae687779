"""Fast read shapes of the API: CI rows built from one `values_list` query.

The CI list is the hottest read of the product. A ModelSerializer spends most of a list
request building fields and calling `to_representation` per attribute; this builds the same
JSON (the fields of `CISerializer`, in its order and formats) straight from tuples.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet

from .. import fields
from ..models import ConfigurationItem

#: The `values_list` paths of a CI's representation, and its keys, from the one registry.
CI_COLUMNS = fields.API_COLUMNS
CI_KEYS = fields.API_KEYS
_CREATED, _UPDATED = CI_KEYS.index("created"), CI_KEYS.index("updated")


def drf_datetime(value: dt.datetime | None) -> str | None:
    """Format a datetime exactly as DRF's DateTimeField does (ISO 8601, `Z` for UTC)."""
    if value is None:
        return None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def ci_values(queryset: QuerySet[ConfigurationItem]) -> QuerySet:
    """The queryset as tuples of CI_COLUMNS (paginate this, then call `ci_rows`)."""
    return queryset.values_list(*CI_COLUMNS)


def ci_rows(tuples: Iterable[tuple]) -> list[dict[str, Any]]:
    """API representations of CIs from tuples of CI_COLUMNS."""
    rows = []
    for values in tuples:
        row = dict(zip(CI_KEYS, values, strict=True))
        row["created"] = drf_datetime(values[_CREATED])
        row["updated"] = drf_datetime(values[_UPDATED])
        rows.append(row)
    return rows


def ci_representation(ci: ConfigurationItem) -> dict[str, Any]:
    """The API representation of a CI whose related objects are loaded (no query)."""
    return {
        "id": ci.pk,
        "name": ci.name,
        "description": ci.description,
        "ci_type": ci.ci_type.slug,
        "status": ci.status,
        "managed": ci.managed,
        "owner": ci.owner.get_username() if ci.owner_id else None,
        "department": ci.department.name if ci.department_id else None,
        "site": ci.site.slug if ci.site_id else None,
        "serial_number": ci.serial_number,
        "asset_tag": ci.asset_tag,
        "hostname": ci.hostname,
        "uuid": ci.uuid,
        "attributes": ci.attributes,
        "version": ci.version,
        "created": drf_datetime(ci.created),
        "updated": drf_datetime(ci.updated),
    }
