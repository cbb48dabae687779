"""The status moves of an incident after logging: start, hold, resume, resolve, close,
confirm, reopen (one service each; the allowed moves are `choices.INCIDENT_TRANSITIONS`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction

from cmdb.history import ChangeContext
from itsm.exceptions import ApplicationError
from itsm.permissions import require_permission

from . import notifications, sla_services
from .choices import Cause, IncidentStatus, ResolutionMethod, allowed_moves
from .models import Incident
from .service_helpers import (
    HOLD_FIELDS,
    _choice,
    _end_hold,
    _is_self_service,
    _lock,
    _move,
    _now,
    _own,
    _plain,
    _respond,
    _save,
    _set,
    reopen_days,
)


@transaction.atomic
def incident_start(
    *, context: ChangeContext, incident: Incident | int, expected_version: int | None = None
) -> Incident:
    """Start work (in progress): counts as the response; an unassigned incident is taken by
    the actor."""
    require_permission(context, "incidents.change_incident")
    incident = _lock(incident, expected_version)
    if incident.status == IncidentStatus.ON_HOLD:
        raise ApplicationError(
            "The incident is on hold: resume it.",
            extra={"status": incident.status, "allowed": allowed_moves(incident.status)},
        )
    changes: dict[str, Any] = {}
    _move(incident, changes, IncidentStatus.IN_PROGRESS)
    _respond(incident, changes, _now(context))
    if incident.assignee_id is None and context.actor is not None:
        _set(incident, changes, "assignee", context.actor)
    return _save(incident, context=context, kind="status", changes=changes, fields=[*changes])


@transaction.atomic
def incident_hold(
    *,
    context: ChangeContext,
    incident: Incident | int,
    reason: str,
    expected_version: int | None = None,
) -> Incident:
    """Put on hold (waiting for the caller or a supplier): the SLA clock stops."""
    require_permission(context, "incidents.change_incident")
    if not (reason or "").strip():
        raise ApplicationError("Say why the incident is on hold.", extra={"reason": ["Required."]})
    incident = _lock(incident, expected_version)
    changes: dict[str, Any] = {}
    _move(incident, changes, IncidentStatus.ON_HOLD)
    _respond(incident, changes, _now(context))
    _set(incident, changes, "hold_reason", reason.strip()[:200])
    sla_services.sla_pause(incident, at=_now(context))
    return _save(
        incident,
        context=context,
        kind="status",
        changes=changes,
        fields=[*changes, "on_hold_since"],
    )


@transaction.atomic
def incident_resume(
    *, context: ChangeContext, incident: Incident | int, expected_version: int | None = None
) -> Incident:
    """Back in progress after a hold: the due times move by the business time on hold."""
    require_permission(context, "incidents.change_incident")
    incident = _lock(incident, expected_version)
    if incident.status != IncidentStatus.ON_HOLD:
        raise ApplicationError(
            "Only an incident on hold can be resumed.",
            extra={"status": incident.status, "allowed": allowed_moves(incident.status)},
        )
    changes: dict[str, Any] = {}
    _move(incident, changes, IncidentStatus.IN_PROGRESS)
    _end_hold(incident, changes, _now(context))
    return _save(
        incident, context=context, kind="status", changes=changes, fields=[*changes, *HOLD_FIELDS]
    )


@transaction.atomic
def incident_resolve(
    *,
    context: ChangeContext,
    incident: Incident | int,
    resolution_method: str,
    resolution: str,
    cause: str | None = None,
    expected_version: int | None = None,
) -> Incident:
    """Resolve from any open status, with a resolution method and notes (refused without);
    the caller is told by e-mail and may confirm or reopen."""
    require_permission(context, "incidents.resolve_incident")
    if not (resolution or "").strip():
        raise ApplicationError(
            "Describe the resolution.", extra={"resolution": ["A resolution is required."]}
        )
    _choice(resolution_method, ResolutionMethod, "resolution_method")
    if cause:
        _choice(cause, Cause, "cause")
    incident = _lock(incident, expected_version)
    now = _now(context)
    changes: dict[str, Any] = {}
    _move(incident, changes, IncidentStatus.RESOLVED)
    _end_hold(incident, changes, now)
    _respond(incident, changes, now)
    _set(incident, changes, "resolution_method", resolution_method)
    _set(incident, changes, "resolution", resolution.strip())
    if cause:
        _set(incident, changes, "cause", cause)
    _set(incident, changes, "resolved_at", now)
    if incident.resolve_due is not None and now > incident.resolve_due:
        _set(incident, changes, "sla_breached", True)
    _save(
        incident, context=context, kind="resolved", changes=changes, fields=[*changes, *HOLD_FIELDS]
    )
    notifications.notify("resolved", incident.pk)
    return incident


@transaction.atomic
def incident_close(
    *, context: ChangeContext, incident: Incident | int, expected_version: int | None = None
) -> Incident:
    """Close a resolved incident (staff)."""
    require_permission(context, "incidents.resolve_incident")
    incident = _lock(incident, expected_version)
    changes: dict[str, Any] = {}
    _move(incident, changes, IncidentStatus.CLOSED)
    _set(incident, changes, "closed_at", _now(context))
    return _save(incident, context=context, kind="closed", changes=changes, fields=[*changes])


@transaction.atomic
def incident_confirm(
    *, context: ChangeContext, incident: Incident | int, expected_version: int | None = None
) -> Incident:
    """The caller confirms the resolution: the incident is closed. Staff may confirm on the
    caller's behalf."""
    self_service = _is_self_service(context, "incidents.change_incident")
    incident = _lock(incident, expected_version)
    if self_service:
        _own(context, incident)
    changes: dict[str, Any] = {}
    _move(incident, changes, IncidentStatus.CLOSED)
    _set(incident, changes, "closed_at", _now(context))
    return _save(incident, context=context, kind="confirmed", changes=changes, fields=[*changes])


@transaction.atomic
def incident_reopen(
    *,
    context: ChangeContext,
    incident: Incident | int,
    reason: str,
    expected_version: int | None = None,
) -> Incident:
    """Reopen a resolved incident, or a closed one within `INCIDENT_REOPEN_DAYS`: a new SLA
    cycle starts (resolution target from now). The caller may reopen their own."""
    self_service = _is_self_service(context, "incidents.change_incident")
    if not (reason or "").strip():
        raise ApplicationError("Say why the incident is reopened.", extra={"reason": ["Required."]})
    incident = _lock(incident, expected_version)
    if self_service:
        _own(context, incident)
    now = _now(context)
    closed = incident.closed_at if incident.status == IncidentStatus.CLOSED else None
    if closed is not None and now - closed > dt.timedelta(days=reopen_days()):
        raise ApplicationError(
            f"This incident was closed more than {reopen_days()} days ago: log a new one.",
            extra={"status": incident.status, "allowed": []},
        )
    changes: dict[str, Any] = {}
    _move(incident, changes, IncidentStatus.REOPENED)
    for name in ("resolved_at", "closed_at"):
        _set(incident, changes, name, None)
    _set(incident, changes, "sla_breached", False)
    _set(incident, changes, "sla_cycle", incident.sla_cycle + 1)
    _set(incident, changes, "hold_reason", "")
    before = incident.resolve_due
    ci_types = set(incident.cis.values_list("ci_type_id", flat=True))
    sla_services.sla_start(incident, at=now, ci_type_ids=ci_types)
    if incident.resolve_due != before:
        changes["resolve_due"] = {"old": _plain(before), "new": _plain(incident.resolve_due)}
    context = ChangeContext(
        actor=context.actor,
        source=context.source,
        source_ref=context.source_ref,
        reason=reason.strip(),
        at=context.at,
        request_id=context.request_id,
    )
    _save(
        incident,
        context=context,
        kind="reopened",
        changes=changes,
        fields=[
            *changes,
            "sla_started_at",
            "sla_policy",
            "response_target_min",
            "resolve_target_min",
            *HOLD_FIELDS,
        ],
    )
    notifications.notify("reopened", incident.pk)
    return incident
