"""FilterSets of the problem and known-error lists, shared by the HTML lists and the API."""

from __future__ import annotations

import django_filters
from django.contrib.auth import get_user_model
from django.db.models import Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from cmdb.models import CIType
from itsm.filters import FilterSet

from .models import KnownError, Problem
from .problem_choices import ProblemStatus
from .problem_selectors import known_error_search


@extend_schema_field(OpenApiTypes.STR)
class SlugChoiceFilter(django_filters.ModelChoiceFilter):
    """One object by slug: `?ci_type=laptop`."""


class ProblemFilterSet(FilterSet):
    """`?q=printer&status=new&status=under_investigation&priority=1&owner=3&incident=42`."""

    q = django_filters.CharFilter(method="filter_q", label="Search")
    status = django_filters.MultipleChoiceFilter(choices=ProblemStatus.choices, distinct=False)
    priority = django_filters.NumberFilter()
    owner = django_filters.ModelChoiceFilter(queryset=get_user_model().objects.all())
    incident = django_filters.NumberFilter(field_name="incidents", label="Has incident (id)")
    known_error = django_filters.NumberFilter(field_name="known_error_id")

    class Meta:
        model = Problem
        fields = []

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(number__iexact=value)
            | Q(title__icontains=value)
            | Q(description__icontains=value)
            | Q(root_cause__icontains=value)
        )


class KnownErrorFilterSet(FilterSet):
    """`?q=printer jam&published=true&category=Printing&ci=12&ci_type=laptop`: `q` is the
    full-text search (PostgreSQL) or a word-by-word `icontains` (SQLite)."""

    q = django_filters.CharFilter(method="filter_q", label="Search")
    published = django_filters.BooleanFilter()
    category = django_filters.CharFilter(field_name="category", lookup_expr="iexact")
    ci = django_filters.NumberFilter(method="filter_ci", label="Applies to CI (id)")
    ci_type = SlugChoiceFilter(
        queryset=CIType.objects.all(), to_field_name="slug", method="filter_ci_type"
    )

    class Meta:
        model = KnownError
        fields = []

    def filter_q(self, queryset, name, value):
        return known_error_search(queryset, value)

    def filter_ci(self, queryset, name, value):
        return queryset.filter(
            pk__in=KnownError.cis.through.objects.filter(configurationitem_id=value).values(
                "knownerror_id"
            )
        )

    def filter_ci_type(self, queryset, name, value):
        return queryset.filter(
            pk__in=KnownError.ci_types.through.objects.filter(citype=value).values("knownerror_id")
        )
