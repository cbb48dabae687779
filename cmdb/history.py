"""The audit helper every CMDB service calls: `record_change()`.

Unlike signal-based change logging, it is called explicitly by services, so changes made by
Celery tasks, agents, imports and management commands are recorded with their source too.
Because every CMDB write records history, recording also bumps the "cmdb" cache generation,
which retires cached CI list pages.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models
from django.utils import timezone

from itsm import caching

from .choices import ChangeSource
from .models import ConfigurationItem, HistoryEntry

#: Fields of a CI whose changes are recorded, and how they are rendered in history.
TRACKED_FIELDS = (
    "name",
    "description",
    "ci_type",
    "status",
    "managed",
    "owner",
    "department",
    "site",
    "serial_number",
    "asset_tag",
    "hostname",
    "uuid",
    "attributes",
)


@dataclass(frozen=True)
class ChangeContext:
    """Who or what makes a change: recorded on every history entry it produces."""

    actor: AbstractBaseUser | None = None
    source: str = ChangeSource.USER
    source_ref: str = ""
    reason: str = ""
    at: dt.datetime | None = field(default=None)

    @property
    def actor_name(self) -> str:
        if self.actor is None:
            return self.source_ref or self.source
        return self.actor.get_username()


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
        elif name in {"owner", "department", "site"}:
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
    """An unsaved history entry, for callers that write many at once with bulk_create."""
    return HistoryEntry(
        ci=ci,
        ci_name=ci.name,
        kind=kind,
        at=context.at or timezone.now(),
        actor=context.actor,
        actor_name=context.actor_name,
        source=context.source,
        source_ref=context.source_ref,
        changes=changes,
        reason=context.reason,
    )


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


_COPY_COLUMNS = (
    "ci_id",
    "ci_name",
    "kind",
    "at",
    "actor_id",
    "actor_name",
    "source",
    "source_ref",
    "changes",
    "reason",
)


#: Below this many entries a multi-row INSERT beats COPY's extra round trips.
COPY_FROM = 100


def record_many(entries: Iterable[HistoryEntry]) -> None:
    """Write many history entries at once (imports, bulk creation).

    On PostgreSQL with COPY (several times faster than a multi-row INSERT for thousands of
    entries), logged like a query so query counts and debug tools see it; elsewhere with
    bulk_create.
    """
    entries = list(entries)
    if not entries:
        return
    if connection.vendor == "postgresql" and len(entries) >= COPY_FROM:
        _copy_entries(entries)
    else:
        HistoryEntry.objects.bulk_create(entries, batch_size=1000)
    caching.bump("cmdb")


def _copy_entries(entries: list[HistoryEntry]) -> None:
    sql = f"COPY {HistoryEntry._meta.db_table} ({', '.join(_COPY_COLUMNS)}) FROM STDIN"
    if connection.queries_logged:
        connection.queries_log.append({"sql": f"{sql} -- {len(entries)} rows", "time": "0.000"})
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for e in entries:
            changes = json.dumps(e.changes, cls=DjangoJSONEncoder)
            copy.write_row(
                (
                    e.ci_id,
                    e.ci_name,
                    e.kind,
                    e.at,
                    e.actor_id,
                    e.actor_name,
                    e.source,
                    e.source_ref,
                    changes,
                    e.reason,
                )
            )
