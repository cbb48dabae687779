"""The one audit log: who changed what, when, through what and why, for any object.

Services write it explicitly (never signals), so changes made by Celery tasks, agents,
imports and management commands are recorded with their source too:

    from itsm.audit import ChangeContext, record

    record(obj=incident, kind="resolved", changes={"status": {"old": "open", "new": "resolved"}},
           context=context)

and read it per object with `entries_for(obj)`. A `ChangeContext` carries the actor, the source
(`itsm.choices.ChangeSource`), a source reference (an RFC number, a release, an agent report),
a reason, an optional time, and the id of the HTTP request it was made in (taken from the
`X-Request-ID` context that `itsm.middleware.RequestIDMiddleware` sets).

Many entries go in one statement with `record_many()` (COPY on PostgreSQL from 100 entries).
"""

from __future__ import annotations

import contextvars
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.db import connection, models
from django.utils import timezone

from . import sql
from .choices import ChangeSource
from .models import AuditEntry

#: The id of the request being served (set by RequestIDMiddleware), "" outside a request.
request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("itsm_request_id", default="")


def current_request_id() -> str:
    """The request id of the request being served, or "" (Celery, commands, agents' tasks)."""
    return request_id_var.get()


@dataclass(frozen=True)
class ChangeContext:
    """Who or what makes a change: recorded on every audit entry it produces."""

    actor: User | None = None
    source: str = ChangeSource.USER
    source_ref: str = ""
    reason: str = ""
    at: dt.datetime | None = field(default=None)
    request_id: str = field(default_factory=current_request_id)

    @property
    def actor_name(self) -> str:
        if self.actor is None:
            return self.source_ref or self.source
        return self.actor.get_username()


def content_type_id(model: type[models.Model] | models.Model) -> int:
    """The content type id of a model (cached by Django after the first query per process)."""
    return ContentType.objects.get_for_model(model, for_concrete_model=True).pk


def new(
    *,
    obj: models.Model,
    kind: str,
    changes: dict[str, Any],
    context: ChangeContext,
    model: type[AuditEntry] = AuditEntry,
) -> AuditEntry:
    """An unsaved entry about `obj` (for `record_many`); `model` may be a proxy of AuditEntry."""
    return model(
        content_type_id=content_type_id(obj),
        object_id=obj.pk,
        object_repr=str(obj)[:200],
        kind=kind,
        at=context.at or timezone.now(),
        actor=context.actor,
        actor_name=context.actor_name,
        source=context.source,
        source_ref=context.source_ref[:100],
        reason=context.reason,
        request_id=context.request_id[:64],
        changes=changes,
    )


def record(
    *, obj: models.Model, kind: str, changes: dict[str, Any], context: ChangeContext
) -> AuditEntry:
    """Write one audit entry about `obj`. Call inside the service's transaction, after saving
    `obj` (so it has its id)."""
    entry = new(obj=obj, kind=kind, changes=changes, context=context)
    entry.save()
    return entry


def entries_for(obj: models.Model) -> models.QuerySet[AuditEntry]:
    """Every audit entry about `obj`, newest first (one indexed range read)."""
    return (
        AuditEntry.objects.filter(content_type_id=content_type_id(obj), object_id=obj.pk)
        .select_related("actor")
        .order_by("-at", "-id")
    )


#: Below this many entries a multi-row INSERT beats COPY's extra round trips.
COPY_FROM = 100


def record_many(entries: Iterable[AuditEntry]) -> None:
    """Write many unsaved entries in one statement (agent reports, imports, bulk creation).

    On PostgreSQL with COPY from `COPY_FROM` entries (several times faster than a multi-row
    INSERT for thousands), logged like a query so query counts and debug tools see it;
    elsewhere with one bulk INSERT.
    """
    entries = list(entries)
    if not entries:
        return
    if connection.vendor == "postgresql" and len(entries) >= COPY_FROM:
        sql.copy_audit_entries(entries)
    else:
        # Proxies of AuditEntry (cmdb.HistoryEntry) share its table and fields.
        AuditEntry.objects.bulk_create(entries, batch_size=1000)
