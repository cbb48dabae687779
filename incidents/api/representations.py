"""The fast read shape of an incident: the JSON of `IncidentSerializer`, built directly.

A ModelSerializer spends most of a small request building its fields; logging an incident
and listing the queue answer with this instead. `tests/incidents/test_api.py` holds the two
to the same output.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from .. import sla_services
from ..choices import SlaTarget
from ..models import Incident


def drf_datetime(value: dt.datetime | None) -> str | None:
    """A datetime as DRF's DateTimeField writes it (current time zone, ISO 8601, `Z`)."""
    if value is None:
        return None
    text = timezone.localtime(value).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _name(user) -> str:
    return (user.get_full_name() or user.get_username()) if user is not None else ""


def _ids(incident: Incident, attribute: str, relation: str) -> list[int]:
    known = getattr(incident, attribute, None)  # set by incident_open: no query
    if known is not None:
        return list(known)
    return [row.pk for row in getattr(incident, relation).all()]


def incident_representation(incident: Incident, *, now: dt.datetime) -> dict[str, Any]:
    """One incident as the API shows it (`IncidentSerializer`'s fields, in its order)."""
    i = incident
    return {
        "id": i.pk,
        "number": i.number,
        "title": i.title,
        "description": i.description,
        "severity": i.severity,
        "impact": i.impact,
        "urgency": i.urgency,
        "priority": i.priority,
        "status": i.status,
        "category": i.category,
        "cause": i.cause,
        "source": i.source,
        "caller": i.caller_id,
        "caller_name": _name(i.caller) if i.caller_id else "",
        "caller_role": i.caller_role,
        "department": i.department_id,
        "assignee": i.assignee_id,
        "assignee_name": _name(i.assignee) if i.assignee_id else "",
        "assignment_group": i.assignment_group_id,
        "resolution_method": i.resolution_method,
        "resolution": i.resolution,
        "related": _ids(i, "related_ids", "related"),
        "response_due": drf_datetime(i.response_due),
        "resolve_due": drf_datetime(i.resolve_due),
        "response_remaining_s": sla_services.remaining_seconds(i, SlaTarget.RESPONSE, now=now),
        "resolve_remaining_s": sla_services.remaining_seconds(i, SlaTarget.RESOLUTION, now=now),
        "sla_breached": i.sla_breached,
        "on_hold_since": drf_datetime(i.on_hold_since),
        "hold_reason": i.hold_reason,
        "responded_at": drf_datetime(i.responded_at),
        "resolved_at": drf_datetime(i.resolved_at),
        "closed_at": drf_datetime(i.closed_at),
        "version": i.version,
        "created": drf_datetime(i.created),
        "updated": drf_datetime(i.updated),
        "cis": _ids(i, "ci_ids", "cis"),
    }
