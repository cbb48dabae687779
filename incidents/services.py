"""Writes of incident management: logging an incident and every move of its workflow.

One service per move (the allowed moves are `choices.INCIDENT_TRANSITIONS`), each in one
transaction: permission, row lock, optional version check (409), transition check (400),
change, audit entry (`itsm.audit.record`), e-mail after commit (`notifications`).

End users (role "End User", permission `incidents.report_incident`) may log incidents for
themselves, comment publicly, and confirm or reopen their own resolved incidents; everything
else needs the staff permissions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils import timezone

from cmdb.history import ChangeContext
from cmdb.models import ConfigurationItem, Department, Person
from itsm.audit import record
from itsm.exceptions import ApplicationError, ConflictError, PermissionDeniedError
from itsm.numbering import next_number
from itsm.permissions import require_permission

from . import notifications, sla_services
from .choices import (
    INCIDENT_TRANSITIONS,
    OPEN_STATUSES,
    PRIORITY_MATRIX,
    Cause,
    IncidentStatus,
    Level,
    ResolutionMethod,
    Severity,
    Source,
    WorkLogVisibility,
    allowed_moves,
)
from .models import Incident, QuickLogTemplate, WorkLogEntry
from .worklog_services import worklog_add  # noqa: F401  (re-exported)

NUMBER_SEQUENCE = "incidents_incident_number"
REPORT = "incidents.report_incident"


def next_incident_number() -> str:
    """INC-000042 from the database sequence (never "last id + 1")."""
    return next_number(NUMBER_SEQUENCE, "INC")


# Kept for callers of the first version.
next_number_for_incident = next_incident_number


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
    items = list(cis)
    ids = [item.pk if isinstance(item, ConfigurationItem) else int(item) for item in items]
    if all(isinstance(item, ConfigurationItem) for item in items):
        return items  # type: ignore[return-value]
    found = {ci.pk: ci for ci in ConfigurationItem.objects.filter(pk__in=ids)}
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
    attname = Incident._meta.get_field(field).attname
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


def _caller_facts(caller: User | None) -> tuple[int | None, str]:
    """The caller's department id and job title as the CMDB knows them."""
    if caller is None:
        return None, ""
    row = Person.objects.filter(user=caller).values_list("department_id", "job_title").first()
    return (row[0], row[1] or "") if row else (None, "")


@transaction.atomic
def incident_open(
    *,
    context: ChangeContext,
    title: str,
    description: str = "",
    severity: str = Severity.MODERATE,
    impact: str = Level.MEDIUM,
    urgency: str = Level.MEDIUM,
    category: str = "",
    cause: str = "",
    cis: Iterable[ConfigurationItem | int] = (),
    source: str = Source.SERVICE_DESK,
    caller: User | None = None,
    department: Department | None = None,
    assignee: User | None = None,
    assignment_group: Group | None = None,
) -> Incident:
    """Log a new incident: number from the sequence, priority from impact × urgency, the
    caller's department and role from the CMDB, SLA due times from the matching policy.

    Staff (`incidents.add_incident`) log for anyone; an end user (`incidents.report_incident`)
    logs for themselves only, with their own devices, and cannot assign. The caller defaults
    to the actor.
    """
    self_service = _is_self_service(context, "incidents.add_incident")
    if not (title or "").strip():
        raise ApplicationError("Give the incident a title.", extra={"title": ["Required."]})
    _choice(severity, Severity, "severity")
    _choice(impact, Level, "impact")
    _choice(urgency, Level, "urgency")
    _choice(cause, Cause, "cause", blank=True)
    items = _cis(cis)
    if self_service:
        from .selectors import user_devices

        caller, assignee, assignment_group = context.actor, None, None
        own = set(user_devices(caller).values_list("pk", flat=True))
        foreign = [ci.pk for ci in items if ci.pk not in own]
        if foreign:
            raise ApplicationError("You can only name your own devices.", extra={"cis": foreign})
    elif caller is None:
        caller = context.actor
    department_id, caller_role = _caller_facts(caller)
    if department is not None:
        department_id = department.pk
    now = timezone.now()
    incident = Incident(
        number=next_incident_number(),
        title=title.strip()[:200],
        description=description,
        severity=severity,
        impact=impact,
        urgency=urgency,
        priority=PRIORITY_MATRIX[(Level(impact), Level(urgency))],
        category=(category or "").strip()[:100],
        cause=cause or "",
        source=source,
        caller=caller,
        department_id=department_id,
        caller_role=caller_role[:100],
        assignee=assignee,
        assignment_group=assignment_group,
    )
    if assignee is not None or assignment_group is not None:
        incident.status = IncidentStatus.ASSIGNED
    sla_services.sla_start(incident, at=now, ci_type_ids={ci.ci_type_id for ci in items})
    incident.save(force_insert=True)
    if items:
        incident.cis.set(items)
    record(
        obj=incident,
        kind="created",
        changes={
            field: {"old": None, "new": _plain(getattr(incident, attname))}
            for field, attname in CREATED_FIELDS
            if getattr(incident, attname) not in (None, "")
        }
        | ({"cis": {"added": [ci.pk for ci in items], "removed": []}} if items else {}),
        context=context,
    )
    if incident.status == IncidentStatus.ASSIGNED and (
        assignee is None or context.actor is None or assignee.pk != context.actor.pk
    ):
        notifications.notify("assigned", incident.pk)
    return incident


CREATED_FIELDS = [
    (name, Incident._meta.get_field(name).attname)
    for name in (
        "number",
        "title",
        "status",
        "severity",
        "impact",
        "urgency",
        "priority",
        "category",
        "cause",
        "source",
        "caller",
        "department",
        "assignee",
        "assignment_group",
        "response_due",
        "resolve_due",
    )
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


def _check_assignee(assignee: User | None) -> None:
    if assignee is None:
        return
    if not assignee.is_active or not assignee.has_perm("incidents.change_incident"):
        raise ApplicationError(
            f"{assignee.get_username()} cannot work on incidents (no service-desk role).",
            extra={"assignee": ["Not a service-desk user."]},
        )


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


@transaction.atomic
def incident_start(
    *, context: ChangeContext, incident: Incident | int, expected_version: int | None = None
) -> Incident:
    """Start work (in progress): counts as the response; an unassigned incident is taken by
    the actor."""
    require_permission(context, "incidents.change_incident")
    incident = _lock(incident, expected_version)
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


def _end_hold(incident: Incident, changes: dict[str, Any], at: dt.datetime) -> None:
    if incident.on_hold_since is None:
        return
    before = (incident.response_due, incident.resolve_due)
    sla_services.sla_resume(incident, at=at)
    for name, old in zip(("response_due", "resolve_due"), before, strict=True):
        if getattr(incident, name) != old:
            changes[name] = {"old": _plain(old), "new": _plain(getattr(incident, name))}


HOLD_FIELDS = ["on_hold_since", "hold_business_s", "response_due", "resolve_due"]


@transaction.atomic
def incident_resume(
    *, context: ChangeContext, incident: Incident | int, expected_version: int | None = None
) -> Incident:
    """Back in progress after a hold: the due times move by the business time on hold."""
    require_permission(context, "incidents.change_incident")
    incident = _lock(incident, expected_version)
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


def reopen_days() -> int:
    """How long after closing an incident may be reopened (`INCIDENT_REOPEN_DAYS`)."""
    return int(getattr(settings, "INCIDENT_REOPEN_DAYS", 7))


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
    if incident.status == IncidentStatus.CLOSED and incident.closed_at is not None:
        if now - incident.closed_at > dt.timedelta(days=reopen_days()):
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
