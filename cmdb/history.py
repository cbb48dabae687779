"""CI history on the one audit log (`itsm.audit`): `record_change()` and friends.

The audit log, `ChangeContext` and `require_permission` live in `itsm` (every app needs them);
the names here stay so CMDB code and callers keep working. A CI's entries are
`itsm.AuditEntry` rows about the CI (`cmdb.models.HistoryEntry` is their proxy). Because every
CMDB write records history, recording also bumps the "cmdb" cache generation, which retires
cached CI list pages.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any

from django.db import models

from itsm import audit, caching
from itsm.audit import COPY_FROM, ChangeContext  # noqa: F401 - re-exported

from . import fields
from .models import ConfigurationItem, HistoryEntry

#: Fields of a CI whose changes are recorded (the registry's `tracked` fields).
TRACKED_FIELDS = fields.TRACKED
#: Foreign keys recorded by id (the CI type is recorded by its slug).
_BY_ID = frozenset(name for name in fields.REFERENCES if name != "ci_type")


def _json_value(value: Any) -> Any:
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def snapshot(ci: ConfigurationItem) -> dict[str, Any]:
    """The tracked fields of a CI as JSON values (foreign keys as ids, type as its slug)."""
    data: dict[str, Any] = {}
    for name in TRACKED_FIELDS:
        if name == "ci_type":
            data[name] = ci.ci_type.slug
        elif name in _BY_ID:
            data[name] = getattr(ci, f"{name}_id")
        else:
            data[name] = _json_value(getattr(ci, name))
    return data


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """`{field: {"old", "new"}}` for the fields whose value differs."""
    return {
        key: {"old": before.get(key), "new": after.get(key)}
        for key in after
        if before.get(key) != after.get(key)
    }


def new_entry(
    *, ci: ConfigurationItem, kind: str, changes: dict[str, Any], context: ChangeContext
) -> HistoryEntry:
    """An unsaved history entry, for callers that write many at once with `record_many`."""
    entry = audit.new(obj=ci, kind=kind, changes=changes, context=context, model=HistoryEntry)
    return entry


def record_change(
    *, ci: ConfigurationItem, kind: str, changes: dict[str, Any], context: ChangeContext
) -> HistoryEntry:
    """Write one history entry for `ci`. Call inside the service's transaction."""
    entry = new_entry(ci=ci, kind=kind, changes=changes, context=context)
    pending = _collected.get()
    if pending is not None:
        pending.append(entry)
        return entry
    entry.save()
    caching.bump("cmdb")
    return entry


_collected: contextvars.ContextVar[list[HistoryEntry] | None] = contextvars.ContextVar(
    "cmdb_history_collected", default=None
)


@contextlib.contextmanager
def collected_history() -> Iterator[None]:
    """Write the history entries recorded inside the block in one statement at its end.

    For work that records several entries per unit (an agent report: fields, storage,
    software…). Use inside the transaction that makes the changes: entries are written when
    the block ends without an error, and not at all if it raises.
    """
    pending: list[HistoryEntry] = []
    token = _collected.set(pending)
    try:
        yield
    finally:
        _collected.reset(token)
    record_many(pending)


def record_many(entries: Iterable[HistoryEntry]) -> None:
    """Write many history entries at once (agent reports, imports, bulk creation): one
    statement (COPY on PostgreSQL from `COPY_FROM` entries), see `itsm.audit.record_many`."""
    entries = list(entries)
    if not entries:
        return
    audit.record_many(entries)
    caching.bump("cmdb")
