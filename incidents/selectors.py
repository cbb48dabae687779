"""Reads of incident management: row-level visibility, the help-desk queues, the timeline,
the caller's devices."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import F, Prefetch, Q, QuerySet

from cmdb.choices import CIStatus
from cmdb.models import ConfigurationItem
from itsm.audit import entries_for

from .choices import OPEN_STATUSES, WorkLogVisibility
from .models import Incident, QuickLogTemplate, WorkLogEntry

STAFF_PERMISSION = "incidents.view_incident"
QUEUE_SCOPES = ("mine", "team", "unassigned", "all")


def is_staff_reader(user: User | AnonymousUser) -> bool:
    """Whether `user` reads every incident (IT staff) rather than only their own."""
    return bool(user and user.is_authenticated and user.has_perm(STAFF_PERMISSION))


def incidents_visible_to(user: User | AnonymousUser) -> QuerySet[Incident]:
    """The incidents `user` may see: all for IT staff (`incidents.view_incident`), otherwise
    only those they are the caller of (end users); nothing for anonymous users."""
    if not user or not user.is_authenticated:
        return Incident.objects.none()
    if is_staff_reader(user):
        return Incident.objects.all()
    return Incident.objects.filter(caller=user)


def incident_list_queryset(user: User | AnonymousUser) -> QuerySet[Incident]:
    """Visible incidents with what a list row shows, in a fixed number of queries."""
    return (
        incidents_visible_to(user)
        .select_related("caller", "assignee", "assignment_group", "department")
        .prefetch_related(Prefetch("cis", queryset=ConfigurationItem.objects.only("id", "name")))
    )


def by_sla_urgency(queryset: QuerySet[Incident]) -> QuerySet[Incident]:
    """Breached first, then the nearest resolution due time first, then the oldest."""
    return queryset.order_by(
        F("sla_breached").desc(),
        F("resolve_due").asc(nulls_last=True),
        "created",
        "id",
    )


def incident_queue(
    *,
    user: User,
    scope: str = "mine",
    statuses: list[str] | None = None,
) -> QuerySet[Incident]:
    """A help-desk queue, ordered by SLA urgency: `mine` (assigned to the user), `team`
    (assigned to one of the user's groups), `unassigned` (no person yet), `all` (every open
    incident). Open incidents only unless `statuses` says otherwise. Rows carry caller,
    assignee, group, department and CIs in a fixed number of queries."""
    if scope not in QUEUE_SCOPES:
        raise ValueError(f"unknown queue scope {scope!r}")
    queryset = incident_list_queryset(user).filter(status__in=statuses or list(OPEN_STATUSES))
    if scope == "mine":
        queryset = queryset.filter(assignee=user)
    elif scope == "team":
        queryset = queryset.filter(assignment_group__in=user.groups.all())
    elif scope == "unassigned":
        queryset = queryset.filter(assignee__isnull=True)
    return by_sla_urgency(queryset)


def user_devices(user: User | AnonymousUser) -> QuerySet[ConfigurationItem]:
    """The CIs the user owns or holds a role for in the CMDB (not disposed): offered first
    when they report an incident."""
    if not user or not user.is_authenticated:
        return ConfigurationItem.objects.none()
    return (
        ConfigurationItem.objects.filter(Q(owner=user) | Q(roles__user=user))
        .exclude(status=CIStatus.DISPOSED)
        .select_related("ci_type")
        .distinct()
        .order_by("name", "id")
    )


def quick_log_templates() -> QuerySet[QuickLogTemplate]:
    """The active quick-log templates, in their order."""
    return QuickLogTemplate.objects.filter(active=True)


def incident_categories(limit: int = 200) -> list[str]:
    """Categories in use, most used first (for a datalist on the logging form)."""
    from django.db.models import Count

    return list(
        Incident.objects.exclude(category="")
        .values("category")
        .annotate(n=Count("id"))
        .order_by("-n", "category")
        .values_list("category", flat=True)[:limit]
    )


@dataclass
class TimelineItem:
    """One event of an incident's timeline: an audit entry or a work log note."""

    at: dt.datetime
    kind: str  # the audit kind ("created", "assigned", "escalated"…) or "worklog"
    actor: str
    source: str = ""
    reason: str = ""
    changes: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    minutes: int = 0
    public: bool = True
    request_id: str = ""
    summary: list[str] = field(default_factory=list)  # readable lines of `changes`


def incident_timeline(incident: Incident, *, public_only: bool = False) -> list[TimelineItem]:
    """Every event of an incident, newest first: audit entries (who, when, what changed,
    through which interface, why) and work log notes. `public_only` (end users): public
    notes and the status moves, without internal notes. `summary` holds the changes as
    readable lines. Two queries, plus one per kind of name shown (users, groups, departments,
    CIs)."""
    items = [
        TimelineItem(
            at=entry.at,
            kind=entry.kind,
            actor=entry.actor_name,
            source=entry.source,
            reason=entry.reason,
            changes=entry.changes,
            request_id=entry.request_id,
        )
        for entry in entries_for(incident)
    ]
    if public_only:
        items = [
            TimelineItem(at=i.at, kind=i.kind, actor=i.actor, changes=_public(i.changes))
            for i in items
            if i.kind in PUBLIC_KINDS
        ]
    from .timeline_display import summaries

    for item, lines in zip(items, summaries([i.changes for i in items]), strict=True):
        item.summary = lines
    notes = WorkLogEntry.objects.filter(incident=incident)
    if public_only:
        notes = notes.filter(visibility=WorkLogVisibility.PUBLIC)
    items += [
        TimelineItem(
            at=note.created,
            kind="worklog",
            actor=note.author_name,
            note=note.note,
            minutes=0 if public_only else note.minutes,
            public=note.visibility == WorkLogVisibility.PUBLIC,
        )
        for note in notes
    ]
    items.sort(key=lambda item: item.at, reverse=True)
    return items


PUBLIC_KINDS = {"created", "status", "resolved", "closed", "confirmed", "reopened", "assigned"}
PUBLIC_FIELDS = {"status", "resolution", "resolution_method", "title"}


def _public(changes: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in changes.items() if key in PUBLIC_FIELDS}
