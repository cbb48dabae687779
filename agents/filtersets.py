"""FilterSets of the agents app, shared by the HTML pages and the API."""

from __future__ import annotations

import django_filters
from django.db.models import Q

from cmdb.filtersets import SlugMultipleChoiceFilter
from cmdb.models import CIType
from itsm.datetimes import StorableIsoDateTimeFilter

from .choices import (
    AgentStatus,
    DiscrepancyKind,
    DiscrepancyStatus,
    EventSeverity,
    RejectionReason,
    ReportStatus,
)
from .models import Agent, CIEvent, Discrepancy, InventoryReport, SecurityEvent


class AgentFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label="Search")
    status = django_filters.MultipleChoiceFilter(choices=AgentStatus.choices)
    policy = django_filters.CharFilter(field_name="group__name")
    ci = django_filters.NumberFilter(field_name="ci_id")

    class Meta:
        model = Agent
        fields = []

    def filter_q(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(key_id=value))


class InventoryReportFilterSet(django_filters.FilterSet):
    agent = django_filters.CharFilter(field_name="agent__key_id")
    ci = django_filters.NumberFilter(field_name="ci_id")
    status = django_filters.MultipleChoiceFilter(choices=ReportStatus.choices)

    class Meta:
        model = InventoryReport
        fields = []


class CIEventFilterSet(django_filters.FilterSet):
    ci = django_filters.NumberFilter(field_name="ci_id")
    kind = django_filters.CharFilter()
    severity = django_filters.MultipleChoiceFilter(choices=EventSeverity.choices)
    since = StorableIsoDateTimeFilter(field_name="at", lookup_expr="gte")

    class Meta:
        model = CIEvent
        fields = []


class DiscrepancyFilterSet(django_filters.FilterSet):
    ci = django_filters.NumberFilter(field_name="ci_id")
    kind = django_filters.MultipleChoiceFilter(choices=DiscrepancyKind.choices)
    status = django_filters.MultipleChoiceFilter(choices=DiscrepancyStatus.choices)
    ci_type = SlugMultipleChoiceFilter(
        field_name="ci__ci_type__slug", to_field_name="slug", queryset=CIType.objects.all()
    )
    q = django_filters.CharFilter(method="filter_q", label="Search")

    class Meta:
        model = Discrepancy
        fields = []

    def filter_q(self, queryset, name, value):
        return queryset.filter(Q(ci__name__icontains=value) | Q(key__icontains=value))


class SecurityEventFilterSet(django_filters.FilterSet):
    reason = django_filters.MultipleChoiceFilter(choices=RejectionReason.choices)
    key_id = django_filters.CharFilter()

    class Meta:
        model = SecurityEvent
        fields = []
