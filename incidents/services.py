"""Writes of incident management: logging an incident and every move of its workflow.

One service per move (the allowed moves are `choices.INCIDENT_TRANSITIONS`), each in one
transaction: permission, row lock, optional version check (409), transition check (400),
change, audit entry (`itsm.audit.record`), e-mail after commit (`notifications`).

End users (role "End User", permission `incidents.report_incident`) may log incidents for
themselves, comment publicly, and confirm or reopen their own resolved incidents; everything
else needs the staff permissions.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils import timezone

from cmdb.history import ChangeContext
from cmdb.models import ConfigurationItem, Department
from itsm.audit import record
from itsm.exceptions import ApplicationError
from itsm.permissions import require_permission

from . import notifications, sla_services
from .choices import (
    OPEN_STATUSES,
    PRIORITY_MATRIX,
    Cause,
    IncidentStatus,
    Level,
    Severity,
    Source,
    allowed_moves,
)
from .models import Incident, QuickLogTemplate
from .open_services import incident_bulk_open, incident_open
from .service_helpers import (
    NUMBER_SEQUENCE,
    REPORT,
    _check_assignee,
    _choice,
    _cis,
    _internal_note,
    _lock,
    _move,
    _plain,
    _save,
    _set,
    next_incident_number,
    reopen_days,
)
from .status_services import (
    incident_close,
    incident_confirm,
    incident_hold,
    incident_reopen,
    incident_resolve,
    incident_resume,
    incident_start,
)
from .worklog_services import worklog_add

__all__ = [
    "NUMBER_SEQUENCE",
    "REPORT",
    "incident_assign",
    "incident_bulk_open",
    "incident_close",
    "incident_confirm",
    "incident_escalate",
    "incident_hold",
    "incident_link",
    "incident_open",
    "incident_quick_log",
    "incident_reopen",
    "incident_resolve",
    "incident_resume",
    "incident_start",
    "incident_update",
    "next_incident_number",
    "reopen_days",
    "worklog_add",
]


#: Fields `incident_update` changes directly (status and assignment have their services).
UPDATABLE = (
    "title",
    "description",
    "severity",
    "impact",
    "urgency",
    "category",
    "cause",
    "caller",
    "department",
    "resolve_due",
)


@transaction.atomic
def incident_update(
    *,
    context: ChangeContext,
    incident: Incident | int,
    data: dict[str, Any],
    expected_version: int | None = None,
) -> Incident:
    """Change an incident's fields (`UPDATABLE`, and `cis`); a new impact or urgency
    re-prioritises and recomputes the due times. An explicit `resolve_due` must be in the
    future. A stale `expected_version` is a 409."""
    require_permission(context, "incidents.change_incident")
    unknown = set(data) - set(UPDATABLE) - {"cis"}
    if unknown:
        raise ApplicationError(
            f"These fields cannot be changed here: {', '.join(sorted(unknown))}.",
            extra={name: ["Not changeable here."] for name in unknown},
        )
    incident = _lock(incident, expected_version)
    if incident.status not in OPEN_STATUSES and set(data) - {"description"}:
        raise ApplicationError("A resolved or closed incident cannot be changed; reopen it.")
    changes: dict[str, Any] = {}
    for name, value in data.items():
        if name == "cis":
            continue
        if name in ("severity", "impact", "urgency", "cause"):
            choices = {"severity": Severity, "impact": Level, "urgency": Level, "cause": Cause}
            _choice(value, choices[name], name, blank=name == "cause")
        if name == "title" and not (value or "").strip():
            raise ApplicationError("Give the incident a title.", extra={"title": ["Required."]})
        if name == "resolve_due" and value is not None and value <= timezone.now():
            raise ApplicationError(
                "A due time must be in the future.", extra={"resolve_due": ["In the past."]}
            )
        _set(incident, changes, name, value)
    ci_types = None
    if "cis" in data:
        items = _cis(data["cis"])
        before = set(incident.cis.values_list("pk", flat=True))
        after = {ci.pk for ci in items}
        if before != after:
            incident.cis.set(items)
            changes["cis"] = {"added": sorted(after - before), "removed": sorted(before - after)}
        ci_types = {ci.ci_type_id for ci in items}
    priority = PRIORITY_MATRIX[(Level(incident.impact), Level(incident.urgency))]
    if priority != incident.priority:
        _set(incident, changes, "priority", priority)
    if {"priority", "department", "cis"} & set(changes) and "resolve_due" not in data:
        if ci_types is None:
            ci_types = set(incident.cis.values_list("ci_type_id", flat=True))
        old_due = (incident.response_due, incident.resolve_due)
        sla_services.sla_apply_policy(incident, ci_type_ids=ci_types)
        for name, old in zip(("response_due", "resolve_due"), old_due, strict=True):
            if getattr(incident, name) != old:
                changes[name] = {"old": _plain(old), "new": _plain(getattr(incident, name))}
    if not changes:
        return incident
    fields = [f for f in changes if f != "cis"] + [
        "sla_policy",
        "response_target_min",
        "resolve_target_min",
        "response_due",
        "resolve_due",
    ]
    return _save(incident, context=context, kind="updated", changes=changes, fields=fields)


@transaction.atomic
def incident_assign(
    *,
    context: ChangeContext,
    incident: Incident | int,
    assignee: User | None = None,
    group: Group | None = None,
    note: str = "",
    expected_version: int | None = None,
) -> Incident:
    """Assign to a person and/or a group; a new or reopened incident becomes assigned. The
    assignee is told by e-mail."""
    require_permission(context, "incidents.change_incident")
    if assignee is None and group is None:
        raise ApplicationError("Name an assignee or a group.", extra={"assignee": ["Required."]})
    _check_assignee(assignee)
    incident = _lock(incident, expected_version)
    if incident.status not in OPEN_STATUSES:
        raise ApplicationError(
            "A resolved or closed incident cannot be assigned; reopen it first.",
            extra={"status": incident.status, "allowed": allowed_moves(incident.status)},
        )
    changes: dict[str, Any] = {}
    if assignee is not None:
        _set(incident, changes, "assignee", assignee)
    if group is not None:
        _set(incident, changes, "assignment_group", group)
    if incident.status in (IncidentStatus.NEW, IncidentStatus.REOPENED):
        _move(incident, changes, IncidentStatus.ASSIGNED)
    if note.strip():
        _internal_note(incident, context, note)
    if not changes:
        return incident
    _save(
        incident,
        context=context,
        kind="assigned",
        changes=changes,
        fields=[*changes],
    )
    notifications.notify("assigned", incident.pk)
    return incident


@transaction.atomic
def incident_escalate(
    *,
    context: ChangeContext,
    incident: Incident | int,
    reason: str,
    assignee: User | None = None,
    group: Group | None = None,
    raise_priority: bool = False,
    notify_user_ids: Iterable[int] = (),
    notify_team: bool = True,
    expected_version: int | None = None,
) -> Incident:
    """Escalate an open incident: optionally to another person or group and one priority up
    (due times recomputed); recorded in the timeline and told by e-mail."""
    require_permission(context, "incidents.escalate_incident")
    if not (reason or "").strip():
        raise ApplicationError("Say why you escalate.", extra={"reason": ["Required."]})
    _check_assignee(assignee)
    incident = _lock(incident, expected_version)
    if incident.status not in OPEN_STATUSES:
        raise ApplicationError(
            "Only an open incident can be escalated.",
            extra={"status": incident.status, "allowed": []},
        )
    changes: dict[str, Any] = {}
    if assignee is not None:
        _set(incident, changes, "assignee", assignee)
    if group is not None:
        _set(incident, changes, "assignment_group", group)
    if (assignee or group) and incident.status in (IncidentStatus.NEW, IncidentStatus.REOPENED):
        _move(incident, changes, IncidentStatus.ASSIGNED)
    if raise_priority and incident.priority > 1:
        _set(incident, changes, "priority", incident.priority - 1)
        before = (incident.response_due, incident.resolve_due)
        sla_services.sla_apply_policy(
            incident, ci_type_ids=set(incident.cis.values_list("ci_type_id", flat=True))
        )
        for name, old in zip(("response_due", "resolve_due"), before, strict=True):
            if getattr(incident, name) != old:
                changes[name] = {"old": _plain(old), "new": _plain(getattr(incident, name))}
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
        kind="escalated",
        changes=changes,
        fields=[*changes, "sla_policy", "response_target_min", "resolve_target_min"],
    )
    notifications.notify(
        "escalated",
        incident.pk,
        reason=reason.strip(),
        user_ids=list(notify_user_ids),
        team=notify_team,
    )
    return incident


@transaction.atomic
def incident_link(
    *, context: ChangeContext, incident: Incident | int, related: Incident | int
) -> Incident:
    """Link two incidents as related (both ways); recorded on both."""
    require_permission(context, "incidents.change_incident")
    incident = _lock(incident)
    other = _lock(related)
    if other.pk == incident.pk:
        raise ApplicationError("An incident cannot be related to itself.")
    if incident.related.filter(pk=other.pk).exists():
        return incident
    incident.related.add(other)
    record(
        obj=incident,
        kind="linked",
        changes={"related": {"added": [other.number], "removed": []}},
        context=context,
    )
    record(
        obj=other,
        kind="linked",
        changes={"related": {"added": [incident.number], "removed": []}},
        context=context,
    )
    return incident


@transaction.atomic
def incident_quick_log(
    *,
    context: ChangeContext,
    template: QuickLogTemplate | int,
    caller: User | None = None,
    cis: Iterable[ConfigurationItem | int] = (),
    department: Department | None = None,
) -> Incident:
    """Log and resolve a trivial recurring incident in one step from a template (it counts
    in reports like any other)."""
    require_permission(context, "incidents.add_incident")
    require_permission(context, "incidents.resolve_incident")
    if not isinstance(template, QuickLogTemplate):
        template_row = QuickLogTemplate.objects.filter(pk=template, active=True).first()
        if template_row is None:
            raise ApplicationError(f"No active quick-log template {template}.")
        template = template_row
    elif not template.active:
        raise ApplicationError(f"The quick-log template {template} is not active.")
    incident = incident_open(
        context=context,
        title=template.title,
        severity=template.severity,
        impact=template.impact,
        urgency=template.urgency,
        category=template.category,
        cause=template.cause,
        cis=cis,
        source=Source.QUICK_LOG,
        caller=caller,
        department=department,
        assignee=context.actor if context.actor is not None else None,
    )
    return incident_resolve(
        context=context,
        incident=incident,
        resolution_method=template.resolution_method,
        resolution=template.resolution,
        cause=template.cause or None,
    )
