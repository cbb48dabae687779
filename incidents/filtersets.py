"""One FilterSet per listed model of the service desk, shared by the HTML lists and the API."""

from __future__ import annotations

import django_filters
from django.db.models import Q

from itsm.datetimes import StorableIsoDateTimeFilter
from itsm.filters import FilterSet

from .choices import Cause, IncidentStatus, Severity
from .models import Incident

PRIORITIES = [(p, f"P{p}") for p in range(1, 6)]


class IncidentFilterSet(FilterSet):
    """`?status=new&status=assigned&priority=1&assignee=7&ci=42&sla_breached=true&q=mail`."""

    q = django_filters.CharFilter(method="filter_q", label="Search")
    status = django_filters.MultipleChoiceFilter(choices=IncidentStatus.choices)
    priority = django_filters.MultipleChoiceFilter(choices=PRIORITIES)
    severity = django_filters.MultipleChoiceFilter(choices=Severity.choices)
    cause = django_filters.MultipleChoiceFilter(choices=Cause.choices)
    category = django_filters.CharFilter(field_name="category", lookup_expr="iexact")
    assignee = django_filters.NumberFilter(field_name="assignee_id")
    assignee_isnull = django_filters.BooleanFilter(field_name="assignee", lookup_expr="isnull")
    assignment_group = django_filters.NumberFilter(field_name="assignment_group_id")
    caller = django_filters.NumberFilter(field_name="caller_id")
    department = django_filters.NumberFilter(field_name="department_id")
    ci = django_filters.NumberFilter(method="filter_ci", label="CI")
    sla_breached = django_filters.BooleanFilter()
    source = django_filters.CharFilter()
    created_after = StorableIsoDateTimeFilter(field_name="created", lookup_expr="gte")
    created_before = StorableIsoDateTimeFilter(field_name="created", lookup_expr="lt")
    resolved_after = StorableIsoDateTimeFilter(field_name="resolved_at", lookup_expr="gte")
    resolved_before = StorableIsoDateTimeFilter(field_name="resolved_at", lookup_expr="lt")

    class Meta:
        model = Incident
        fields: list[str] = []

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(number__iexact=value) | Q(title__icontains=value) | Q(description__icontains=value)
        )

    def filter_ci(self, queryset, name, value):
        # A subquery rather than a join: no duplicate rows, no DISTINCT.
        through = Incident.cis.through
        return queryset.filter(
            pk__in=through.objects.filter(configurationitem_id=value).values("incident_id")
        )
