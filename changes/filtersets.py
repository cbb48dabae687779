"""One FilterSet per listed model of change management, shared by the HTML lists and the API."""

from __future__ import annotations

import django_filters
from django.contrib.auth import get_user_model
from django.db.models import Q

from cmdb.models import ConfigurationItem
from itsm.datetimes import StorableIsoDateTimeFilter
from itsm.filters import FilterSet

from .choices import ChangeCategory, ChangePriority, ChangeStatus, ChangeType, RiskLevel
from .models import ApprovalBody, Blackout, CabMeeting, Change, StandardChangeTemplate


class ChangeFilterSet(FilterSet):
    """`?status=submitted&change_type=normal&priority=urgent&ci=12&originator=3&q=patch
    &planned_after=…&planned_before=…` (the window overlaps planned_after to planned_before)."""

    q = django_filters.CharFilter(method="filter_q", label="Search")
    status = django_filters.MultipleChoiceFilter(choices=ChangeStatus.choices)
    change_type = django_filters.MultipleChoiceFilter(choices=ChangeType.choices)
    priority = django_filters.MultipleChoiceFilter(choices=ChangePriority.choices)
    category = django_filters.MultipleChoiceFilter(choices=ChangeCategory.choices)
    risk = django_filters.MultipleChoiceFilter(choices=RiskLevel.choices)
    ci = django_filters.ModelChoiceFilter(
        field_name="cis", queryset=ConfigurationItem.objects.all(), label="CI", distinct=True
    )
    originator = django_filters.ModelChoiceFilter(queryset=get_user_model().objects.all())
    approval_body = django_filters.ModelChoiceFilter(queryset=ApprovalBody.objects.all())
    planned_after = StorableIsoDateTimeFilter(
        field_name="planned_end", lookup_expr="gt", label="Window ends after"
    )
    planned_before = StorableIsoDateTimeFilter(
        field_name="planned_start", lookup_expr="lt", label="Window starts before"
    )

    class Meta:
        model = Change
        fields = []

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(number__iexact=value) | Q(title__icontains=value) | Q(description__icontains=value)
        )


class TemplateFilterSet(FilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Search")
    active = django_filters.BooleanFilter()
    category = django_filters.MultipleChoiceFilter(choices=ChangeCategory.choices)

    class Meta:
        model = StandardChangeTemplate
        fields = []


class BlackoutFilterSet(FilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Search")
    after = StorableIsoDateTimeFilter(field_name="end", lookup_expr="gt", label="Ends after")
    before = StorableIsoDateTimeFilter(field_name="start", lookup_expr="lt", label="Starts before")

    class Meta:
        model = Blackout
        fields = []


class CabMeetingFilterSet(FilterSet):
    body = django_filters.ModelChoiceFilter(queryset=ApprovalBody.objects.all())
    after = StorableIsoDateTimeFilter(field_name="start", lookup_expr="gte", label="From")
    before = StorableIsoDateTimeFilter(field_name="start", lookup_expr="lt", label="Until")

    class Meta:
        model = CabMeeting
        fields = []
