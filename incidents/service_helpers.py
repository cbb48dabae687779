"""Shared pieces of the incident services: row lock and version check, transition check,
change bookkeeping, validation of choices and CIs. Not services themselves."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.utils import timezone

from cmdb.history import ChangeContext
from cmdb.models import ConfigurationItem
from itsm.audit import record
from itsm.exceptions import ApplicationError, ConflictError, PermissionDeniedError
from itsm.numbering import next_number

from . import sla_services
from .choices import (
    INCIDENT_TRANSITIONS,
    IncidentStatus,
    WorkLogVisibility,
    allowed_moves,
)
from .models import Incident, WorkLogEntry

NUMBER_SEQUENCE = "incidents_incident_number"
REPORT = "incidents.report_incident"


def next_incident_number() -> str:
    """INC-000042 from the database sequence (never "last id + 1")."""
    return next_number(NUMBER_SEQUENCE, "INC")


def _choice(value: str, choices: type, field: str, *, blank: bool = False) -> str:
    if blank and value in ("", None):
        return ""
    if value not in choices.values:
        allowed = ", ".join(choices.values)
        raise ApplicationError(
            f"'{value}' is not a valid {field} (one of {allowed}).", extra={field: [allowed]}
        )
    return value


def _cis(cis: Iterable[ConfigurationItem | int]) -> list[ConfigurationItem]:
    """CIs given as objects or ids; unknown ids are a 400 naming them."""
    items = list({(i.pk if isinstance(i, ConfigurationItem) else i): i for i in cis}.values())
    try:
        ids = [item.pk if isinstance(item, ConfigurationItem) else int(item) for item in items]
    except (TypeError, ValueError):
        raise ApplicationError("CIs are given by their ids.", extra={"cis": []}) from None
    if all(isinstance(item, ConfigurationItem) for item in items):
        return items  # type: ignore[return-value]
    rows = ConfigurationItem.objects.filter(pk__in=set(ids)).only("id", "name", "ci_type_id")
    found = {ci.pk: ci for ci in rows}
    missing = [pk for pk in ids if pk not in found]
    if missing:
        raise ApplicationError(
            f"Unknown CIs: {', '.join(map(str, missing))}.", extra={"cis": missing}
        )
    return [found[pk] for pk in ids]


def _is_self_service(context: ChangeContext, staff_perm: str) -> bool:
    """Whether the actor acts as an end user (has `report_incident`, not the staff
    permission); refuses actors with neither."""
    actor = context.actor
    if actor is None or actor.has_perm(staff_perm):
        return False
    if actor.has_perm(REPORT):
        return True
    raise PermissionDeniedError(f"You do not have permission to do this ({staff_perm}).")


def _lock(incident: Incident | int, expected_version: int | None = None) -> Incident:
    pk = incident.pk if isinstance(incident, Incident) else incident
    try:
        locked = (
            Incident.objects.select_for_update(of=("self",)).select_related("sla_policy").get(pk=pk)
        )
    except Incident.DoesNotExist:
        raise ApplicationError(f"Incident {pk} does not exist.") from None
    if expected_version is not None and locked.version != expected_version:
        raise ConflictError(
            "The incident was changed by someone else; reload it.",
            extra={"current_version": locked.version},
        )
    return locked


def _own(context: ChangeContext, incident: Incident) -> None:
    if context.actor is not None and incident.caller_id != context.actor.pk:
        raise PermissionDeniedError("You may only act on incidents you reported.")


def _check_move(incident: Incident, to: str) -> None:
    if to not in INCIDENT_TRANSITIONS.get(incident.status, frozenset()):
        current, target = IncidentStatus(incident.status).label, IncidentStatus(to).label
        allowed = ", ".join(IncidentStatus(s).label for s in allowed_moves(incident.status))
        raise ApplicationError(
            f"An incident cannot move from {current} to {target}. "
            f"Allowed from {current}: {allowed or 'none'}.",
            extra={"status": incident.status, "allowed": allowed_moves(incident.status)},
        )


def _save(
    incident: Incident,
    *,
    context: ChangeContext,
    kind: str,
    changes: dict[str, Any],
    fields: Iterable[str],
) -> Incident:
    incident.version += 1
    incident.save(update_fields=[*set(fields), "version", "updated"])
    record(obj=incident, kind=kind, changes=changes, context=context)
    return incident


def _set(incident: Incident, changes: dict[str, Any], field: str, value: Any) -> None:
    """Set a field and note the change (ids for foreign keys)."""
    attname = Incident._meta.get_field(field).attname  # type: ignore[union-attr]
    old = getattr(incident, attname)
    new_value = value.pk if hasattr(value, "pk") else value
    if old != new_value:
        setattr(incident, attname, new_value)
        if field in ("assignee", "assignment_group", "caller", "department", "sla_policy"):
            setattr(incident, field, value)
        changes[field] = {"old": _plain(old), "new": _plain(new_value)}


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime | dt.date) else value


def _move(incident: Incident, changes: dict[str, Any], to: str) -> None:
    _check_move(incident, to)
    _set(incident, changes, "status", to)


def _now(context: ChangeContext) -> dt.datetime:
    return context.at or timezone.now()


def _check_assignee(assignee: User | None) -> None:
    if assignee is None:
        return
    if not assignee.is_active or not assignee.has_perm("incidents.change_incident"):
        raise ApplicationError(
            f"{assignee.get_username()} cannot work on incidents (no service-desk role).",
            extra={"assignee": ["Not a service-desk user."]},
        )


def _internal_note(incident: Incident, context: ChangeContext, note: str) -> None:
    actor = context.actor
    WorkLogEntry.objects.create(
        incident=incident,
        author=actor,
        author_name=context.actor_name,
        note=note.strip(),
        visibility=WorkLogVisibility.INTERNAL,
    )


def _respond(incident: Incident, changes: dict[str, Any], now: dt.datetime) -> None:
    if incident.responded_at is None:
        _set(incident, changes, "responded_at", now)


def _end_hold(incident: Incident, changes: dict[str, Any], at: dt.datetime) -> None:
    if incident.on_hold_since is None:
        return
    before = (incident.response_due, incident.resolve_due)
    sla_services.sla_resume(incident, at=at)
    for name, old in zip(("response_due", "resolve_due"), before, strict=True):
        if getattr(incident, name) != old:
            changes[name] = {"old": _plain(old), "new": _plain(getattr(incident, name))}


HOLD_FIELDS = ["on_hold_since", "hold_business_s", "response_due", "resolve_due"]


def reopen_days() -> int:
    """How long after closing an incident may be reopened (`INCIDENT_REOPEN_DAYS`)."""
    return int(getattr(settings, "INCIDENT_REOPEN_DAYS", 7))
