"""Readable lines for an incident's timeline: `{"assignee": {"old": 3, "new": 7}}` becomes
"Assignee: — → Oliver Bennett", with names looked up in one query per kind of object."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from cmdb.models import ConfigurationItem, Department

from .choices import Cause, IncidentStatus, Level, ResolutionMethod, Severity, Source

LABELS = {
    "status": "Status",
    "title": "Title",
    "severity": "Severity",
    "impact": "Impact",
    "urgency": "Urgency",
    "priority": "Priority",
    "category": "Category",
    "cause": "Cause",
    "source": "Raised through",
    "caller": "Caller",
    "department": "Department",
    "assignee": "Assignee",
    "assignment_group": "Group",
    "resolution_method": "Resolution method",
    "resolution": "Resolution",
    "response_due": "Response due",
    "resolve_due": "Resolve due",
    "responded_at": "Responded",
    "resolved_at": "Resolved",
    "closed_at": "Closed",
    "sla_breached": "SLA breached",
    "hold_reason": "Hold reason",
    "number": "Number",
    "cis": "CIs",
    "related": "Related incidents",
    "sla_cycle": "SLA cycle",
}
CHOICES = {
    "status": IncidentStatus,
    "severity": Severity,
    "impact": Level,
    "urgency": Level,
    "cause": Cause,
    "resolution_method": ResolutionMethod,
    "source": Source,
}
USERS, GROUPS, DEPARTMENTS = ("caller", "assignee"), ("assignment_group",), ("department",)


def _ids(changes_list: Iterable[dict[str, Any]], fields: tuple[str, ...]) -> set[int]:
    found = set()
    for changes in changes_list:
        for name in fields:
            change = changes.get(name) or {}
            found |= {v for v in (change.get("old"), change.get("new")) if isinstance(v, int)}
    return found


def _ci_ids(changes_list: Iterable[dict[str, Any]]) -> set[int]:
    found: set[int] = set()
    for changes in changes_list:
        cis = changes.get("cis") or {}
        found |= {v for v in [*cis.get("added", []), *cis.get("removed", [])] if isinstance(v, int)}
    return found


def summaries(changes_list: list[dict[str, Any]]) -> list[list[str]]:
    """One list of readable lines per `changes` dict, names resolved in bulk."""
    users = {
        u.pk: (u.get_full_name() or u.get_username())
        for u in get_user_model().objects.filter(pk__in=_ids(changes_list, USERS))
    }
    groups = dict(Group.objects.filter(pk__in=_ids(changes_list, GROUPS)).values_list("pk", "name"))
    departments = dict(
        Department.objects.filter(pk__in=_ids(changes_list, DEPARTMENTS)).values_list("pk", "name")
    )
    cis = dict(
        ConfigurationItem.objects.filter(pk__in=_ci_ids(changes_list)).values_list("pk", "name")
    )
    names = {**dict.fromkeys(USERS, users), "assignment_group": groups, "department": departments}

    def show(field: str, value: Any) -> str:
        if value in (None, ""):
            return "—"
        if field in names:
            return names[field].get(value, f"#{value}")
        if field in CHOICES:
            try:
                return str(CHOICES[field](value).label)
            except ValueError:
                return str(value)
        if field == "priority":
            return f"P{value}"
        if isinstance(value, bool):
            return "yes" if value else "no"
        return str(value)

    result = []
    for changes in changes_list:
        lines = []
        for field, change in changes.items():
            label = LABELS.get(field, field.replace("_", " ").capitalize())
            if isinstance(change, dict) and ("added" in change or "removed" in change):
                shown = (lambda v: cis.get(v, f"#{v}")) if field == "cis" else str
                added = ", ".join(shown(v) for v in change.get("added", []))
                removed = ", ".join(shown(v) for v in change.get("removed", []))
                parts = [f"+ {added}" if added else "", f"- {removed}" if removed else ""]
                lines.append(f"{label}: {' '.join(p for p in parts if p)}")
            elif isinstance(change, dict):
                old, new = show(field, change.get("old")), show(field, change.get("new"))
                lines.append(f"{label}: {new}" if old == "—" else f"{label}: {old} → {new}")
        result.append(lines)
    return result
