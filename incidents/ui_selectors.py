"""Reads of the help-desk and portal pages: the filtered queue, its counts, the incident page,
the look-ups of the logging form. Built on `incidents.selectors` (visibility, queues)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Case, IntegerField, Prefetch, Q, QuerySet, Value, When
from django.http import QueryDict

from cmdb.choices import CIStatus
from cmdb.models import CIRole, ConfigurationItem, Person

from .choices import OPEN_STATUSES, WorkLogVisibility
from .filtersets import IncidentFilterSet
from .models import Incident, SavedFilter, WorkLogEntry
from .selectors import by_sla_urgency, incident_queue, incidents_visible_to, user_devices

QUEUES = {
    "mine": "My queue",
    "team": "My team's queue",
    "unassigned": "Unassigned",
    "all": "All",
}
#: Query parameters of the queue page that are not filters.
NOT_FILTERS = {"page", "queue"}
LOOKUP_LIMIT = 20


def queue_page_queryset(*, user: User, queue: str, data: QueryDict) -> tuple[Any, QuerySet]:
    """The queue `queue` of `user`, filtered by the quick filters in `data` (the incident
    FilterSet shared with the API), sorted by SLA urgency. A status filter widens the queue
    beyond open incidents. Returns (filterset, queryset); an invalid filter gives no rows."""
    if queue not in QUEUES:
        queue = "mine"
    statuses = data.getlist("status") if data is not None else []
    statuses = [s for s in statuses if s]
    if queue == "team":
        # The user's group ids first (one small query): `assignment_group_id IN (…)` with
        # literal ids lets PostgreSQL walk the open-incidents-per-group index in queue order.
        groups = list(user.groups.values_list("pk", flat=True))
        base = incident_queue(user=user, scope="all", statuses=statuses or None).filter(
            assignment_group_id__in=groups
        )
    else:
        base = incident_queue(user=user, scope=queue, statuses=statuses or None)
    filters = data.copy()
    for name in NOT_FILTERS:
        filters.pop(name, None)
    filterset = IncidentFilterSet(filters or None, queryset=base)
    if not filterset.is_bound:
        return filterset, base
    if not filterset.is_valid():
        return filterset, base.none()
    return filterset, by_sla_urgency(filterset.qs)


def queue_counts(user: User) -> dict[str, int]:
    """Open incidents in each queue of `user`, and how many are breached: one small query for
    the user's groups, then one count per queue, each read from a partial index of open
    incidents (migration 0005) rather than the rows."""
    groups = list(user.groups.values_list("pk", flat=True))
    open_incidents = Incident.objects.filter(status__in=list(OPEN_STATUSES))
    return {
        "mine": open_incidents.filter(assignee=user).count(),
        "team": open_incidents.filter(assignment_group__in=groups).count() if groups else 0,
        "unassigned": open_incidents.filter(assignee__isnull=True).count(),
        "all": open_incidents.count(),
        "breached": open_incidents.filter(sla_breached=True).count(),
    }


def saved_filters(user: User | AnonymousUser) -> QuerySet[SavedFilter]:
    """The user's saved queue filters, by name."""
    if not user.is_authenticated:
        return SavedFilter.objects.none()
    return SavedFilter.objects.filter(owner=user).only("id", "name", "query")


def incident_page_queryset(user: User | AnonymousUser) -> QuerySet[Incident]:
    """Visible incidents with what the incident page shows, in a fixed number of queries."""
    return (
        incidents_visible_to(user)
        .select_related("caller", "assignee", "assignment_group", "department", "sla_policy")
        .prefetch_related(
            Prefetch(
                "cis",
                queryset=ConfigurationItem.objects.select_related("ci_type").order_by("name", "id"),
            )
        )
    )


def incident_cis(incident: Incident) -> list[ConfigurationItem]:
    """The CIs of an incident with their type and status (for links and impact), prefetched
    by `incident_page_queryset`."""
    return list(incident.cis.all())


def related_incidents(incident: Incident) -> QuerySet[Incident]:
    """The incidents linked to this one."""
    return incident.related.only("id", "number", "title", "status", "priority").order_by("number")


def public_comments(incident: Incident) -> QuerySet[WorkLogEntry]:
    """The public work-log notes of an incident, oldest first (the portal's conversation)."""
    return WorkLogEntry.objects.filter(
        incident=incident, visibility=WorkLogVisibility.PUBLIC
    ).order_by("created", "id")


def ci_lookup(
    *, terms: list[str], caller_id: int | None = None, limit: int = LOOKUP_LIMIT
) -> list[dict[str, Any]]:
    """CIs not disposed whose name, host name, serial or asset tag contain every term, the
    caller's own devices first (marked `own`). One query."""
    queryset = ConfigurationItem.objects.exclude(status=CIStatus.DISPOSED)
    for term in terms:
        queryset = queryset.filter(
            Q(name__icontains=term)
            | Q(hostname__icontains=term)
            | Q(serial_number__icontains=term)
            | Q(asset_tag__icontains=term)
        )
    if caller_id:
        own = Q(owner_id=caller_id) | Q(pk__in=_role_cis(caller_id))
        queryset = queryset.annotate(
            own=Case(When(own, then=Value(0)), default=Value(1), output_field=IntegerField())
        )
    else:
        queryset = queryset.annotate(own=Value(1, output_field=IntegerField()))
    rows = queryset.order_by("own", "name", "pk").values(
        "pk", "name", "hostname", "serial_number", "asset_tag", "ci_type__name", "own"
    )[:limit]
    return [
        {
            "id": row["pk"],
            "text": row["name"],
            "type": row["ci_type__name"],
            "hostname": row["hostname"] or "",
            "serial_number": row["serial_number"] or "",
            "asset_tag": row["asset_tag"] or "",
            "own": row["own"] == 0,
        }
        for row in rows
    ]


def _role_cis(user_id: int) -> QuerySet:
    return CIRole.objects.filter(user_id=user_id).values("ci_id")


def caller_facts(user_id: int) -> dict[str, Any] | None:
    """A caller's name, department and job title (as the CMDB knows them) and their devices:
    shown next to the caller on the logging form. Three queries."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return None
    person = Person.objects.filter(user=user).select_related("department").first()
    return {
        "user": user,
        "department": person.department if person else None,
        "role": (person.job_title if person else "") or "",
        "devices": list(user_devices(user)[:10]),
    }
