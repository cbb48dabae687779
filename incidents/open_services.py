"""Logging incidents: one (`incident_open`, used by the web UI, the API, the CMDB audit and the
agents' discrepancies) or many at once (`incident_bulk_open`, the API's list body), with the
same rules: number from the sequence, priority from impact x urgency, the caller's department
and role from the CMDB, SLA due times from the most specific policy.

The bulk path does per batch what the single path does per incident: one CI look-up, one
look-up of the callers, one `nextval` for all numbers, one INSERT each for incidents, CI links
and audit entries.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils import timezone

from cmdb.history import ChangeContext
from cmdb.models import ConfigurationItem, Department, Person
from itsm.audit import new, record, record_many
from itsm.exceptions import ApplicationError
from itsm.numbering import format_number, next_values

from . import notifications, sla_services
from .choices import PRIORITY_MATRIX, Cause, IncidentStatus, Level, Severity, Source
from .models import Incident
from .service_helpers import NUMBER_SEQUENCE, _choice, _cis, _is_self_service, _plain

CREATED_FIELDS = [
    (name, Incident._meta.get_field(name).attname)  # type: ignore[union-attr]
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

#: What one incident to log may say (the keyword arguments of `incident_open` but context).
FIELDS = (
    "title",
    "description",
    "severity",
    "impact",
    "urgency",
    "category",
    "cause",
    "cis",
    "caller",
    "department",
    "assignee",
    "assignment_group",
)


def _check(spec: dict[str, Any]) -> None:
    unknown = set(spec) - set(FIELDS)
    if unknown:
        raise ApplicationError(f"Unknown fields: {', '.join(sorted(unknown))}.")
    if not (spec.get("title") or "").strip():
        raise ApplicationError("Give the incident a title.", extra={"title": ["Required."]})
    _choice(spec.get("severity", Severity.MODERATE), Severity, "severity")
    _choice(spec.get("impact", Level.MEDIUM), Level, "impact")
    _choice(spec.get("urgency", Level.MEDIUM), Level, "urgency")
    _choice(spec.get("cause") or "", Cause, "cause", blank=True)


def _build(
    spec: dict[str, Any],
    *,
    items: list[ConfigurationItem],
    facts: tuple[int | None, str],
    number: str,
    source: str,
    now: dt.datetime,
) -> Incident:
    """An unsaved incident from a checked spec, with its SLA due times."""
    impact = spec.get("impact", Level.MEDIUM)
    urgency = spec.get("urgency", Level.MEDIUM)
    department: Department | None = spec.get("department")
    assignee, group = spec.get("assignee"), spec.get("assignment_group")
    incident = Incident(
        number=number,
        title=spec["title"].strip()[:200],
        description=spec.get("description") or "",
        severity=spec.get("severity", Severity.MODERATE),
        impact=impact,
        urgency=urgency,
        priority=PRIORITY_MATRIX[(Level(impact), Level(urgency))],
        category=(spec.get("category") or "").strip()[:100],
        cause=spec.get("cause") or "",
        source=source,
        caller=spec.get("caller"),
        department_id=department.pk if department is not None else facts[0],
        caller_role=facts[1][:100],
        assignee=assignee,
        assignment_group=group,
    )
    if assignee is not None or group is not None:
        incident.status = IncidentStatus.ASSIGNED
    sla_services.sla_start(incident, at=now, ci_type_ids={ci.ci_type_id for ci in items})
    return incident


def _created_changes(incident: Incident, items: list[ConfigurationItem]) -> dict[str, Any]:
    changes = {
        field: {"old": None, "new": _plain(getattr(incident, attname))}
        for field, attname in CREATED_FIELDS
        if getattr(incident, attname) not in (None, "")
    }
    if items:
        changes["cis"] = {"added": [ci.pk for ci in items], "removed": []}
    return changes


def _for_self_service(
    context: ChangeContext, specs: Sequence[dict[str, Any]], items: Sequence[list]
) -> None:
    """An end user logs for themselves, unassigned, naming only their own devices."""
    from .selectors import user_devices

    assert context.actor is not None  # an end user is a person
    own = set(user_devices(context.actor).values_list("pk", flat=True))
    for spec, cis in zip(specs, items, strict=True):
        foreign = [ci.pk for ci in cis if ci.pk not in own]
        if foreign:
            raise ApplicationError("You can only name your own devices.", extra={"cis": foreign})
        spec.update(caller=context.actor, assignee=None, assignment_group=None)


def _facts(callers: Iterable[User | None]) -> dict[int, tuple[int | None, str]]:
    """Department id and job title per caller id, as the CMDB knows them (one query)."""
    ids = {caller.pk for caller in callers if caller is not None}
    if not ids:
        return {}
    rows = Person.objects.filter(user_id__in=ids).values_list(
        "user_id", "department_id", "job_title"
    )
    return {user_id: (department_id, title or "") for user_id, department_id, title in rows}


def _distinct(
    known: dict[int, ConfigurationItem], given: Iterable[ConfigurationItem | int]
) -> list[ConfigurationItem]:
    """The CIs of one item, each once, in the order given."""
    ids = [ci.pk if isinstance(ci, ConfigurationItem) else int(ci) for ci in given]
    return [known[pk] for pk in dict.fromkeys(ids)]


def _notify(context: ChangeContext, incident: Incident) -> None:
    assignee = incident.assignee
    if incident.status == IncidentStatus.ASSIGNED and (
        assignee is None or context.actor is None or assignee.pk != context.actor.pk
    ):
        notifications.notify("assigned", incident.pk)


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
    """Log a new incident: number from the sequence, priority from impact x urgency, the
    caller's department and role from the CMDB, SLA due times from the matching policy.

    Staff (`incidents.add_incident`) log for anyone; an end user (`incidents.report_incident`)
    logs for themselves only, with their own devices, and cannot assign. The caller defaults
    to the actor.
    """
    self_service = _is_self_service(context, "incidents.add_incident")
    spec: dict[str, Any] = {
        "title": title,
        "description": description,
        "severity": severity,
        "impact": impact,
        "urgency": urgency,
        "category": category,
        "cause": cause,
        "caller": caller if caller is not None else context.actor,
        "department": department,
        "assignee": assignee,
        "assignment_group": assignment_group,
    }
    _check(spec)
    items = _cis(cis)
    if self_service:
        _for_self_service(context, [spec], [items])
    caller = spec["caller"]
    facts = _facts([caller]).get(caller.pk, (None, "")) if caller is not None else (None, "")
    number = format_number("INC", next_values(NUMBER_SEQUENCE, 1)[0])
    incident = _build(
        spec, items=items, facts=facts, number=number, source=source, now=timezone.now()
    )
    incident.save(force_insert=True)
    if items:  # a new incident has no links yet: insert them without reading any
        through = Incident.cis.through
        through.objects.bulk_create(
            [through(incident_id=incident.pk, configurationitem_id=ci.pk) for ci in items]
        )
    # What the caller's answer shows, known without a query: the CIs, no related incidents.
    setattr(incident, "ci_ids", [ci.pk for ci in items])  # noqa: B010
    setattr(incident, "related_ids", [])  # noqa: B010
    record(obj=incident, kind="created", changes=_created_changes(incident, items), context=context)
    _notify(context, incident)
    return incident


@transaction.atomic
def incident_bulk_open(
    *,
    context: ChangeContext,
    items: Sequence[dict[str, Any]],
    source: str = Source.API,
) -> list[Incident]:
    """Log many incidents at once, all or nothing, with `incident_open`'s rules; each item
    holds `incident_open`'s keyword arguments (`FIELDS`). A refused item is a 400 naming its
    index (`{"index": 3, ...}`)."""
    self_service = _is_self_service(context, "incidents.add_incident")
    specs = [dict(item) for item in items]
    cis_given = [spec.pop("cis", ()) or () for spec in specs]
    for index, spec in enumerate(specs):
        spec.setdefault("caller", None)
        if spec["caller"] is None:
            spec["caller"] = context.actor
        try:
            _check(spec)
        except ApplicationError as exc:
            exc.extra["index"] = index
            raise
    wanted = [ci for given in cis_given for ci in given]
    known = {ci.pk: ci for ci in _cis(wanted)} if wanted else {}
    cis_of = [_distinct(known, given) for given in cis_given]
    if self_service:
        _for_self_service(context, specs, cis_of)
    facts = _facts(spec["caller"] for spec in specs)
    numbers = next_values(NUMBER_SEQUENCE, len(specs))
    now = timezone.now()
    incidents = [
        _build(
            spec,
            items=cis,
            facts=facts.get(spec["caller"].pk, (None, "")) if spec["caller"] else (None, ""),
            number=format_number("INC", number),
            source=source,
            now=now,
        )
        for spec, cis, number in zip(specs, cis_of, numbers, strict=True)
    ]
    Incident.objects.bulk_create(incidents)
    if any(incident.pk is None for incident in incidents):  # a backend without RETURNING
        by_number = dict(
            Incident.objects.filter(number__in=[i.number for i in incidents]).values_list(
                "number", "pk"
            )
        )
        for incident in incidents:
            incident.pk = by_number[incident.number]
    through = Incident.cis.through
    through.objects.bulk_create(
        [
            through(incident_id=incident.pk, configurationitem_id=ci.pk)
            for incident, cis in zip(incidents, cis_of, strict=True)
            for ci in cis
        ]
    )
    record_many(
        new(obj=incident, kind="created", changes=_created_changes(incident, cis), context=context)
        for incident, cis in zip(incidents, cis_of, strict=True)
    )
    for incident, cis in zip(incidents, cis_of, strict=True):
        setattr(incident, "ci_ids", [ci.pk for ci in cis])  # noqa: B010
        setattr(incident, "related_ids", [])  # noqa: B010
        _notify(context, incident)
    return incidents
