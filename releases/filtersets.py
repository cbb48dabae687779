"""One FilterSet per listed model, shared by the HTML lists and the API."""

from __future__ import annotations

import django_filters
from django.db.models import Q

from itsm.filters import FilterSet

from . import selectors
from .choices import ReleasePriority, ReleaseStatus, ReleaseType, TargetState
from .models import DeploymentTarget, Release, ReleasePackage, SoftwareArtifact


class ReleaseFilterSet(FilterSet):
    q = django_filters.CharFilter(method="filter_q", label="Search")
    status = django_filters.MultipleChoiceFilter(choices=ReleaseStatus.choices)
    release_type = django_filters.MultipleChoiceFilter(choices=ReleaseType.choices)
    priority = django_filters.MultipleChoiceFilter(choices=ReleasePriority.choices)
    change = django_filters.NumberFilter(field_name="changes", label="RFC")

    class Meta:
        model = Release
        fields = []

    def filter_q(self, queryset, name, value):
        value = value.strip()
        return (
            queryset.filter(Q(number__iexact=value) | Q(title__icontains=value))
            if value
            else queryset
        )


class ArtifactFilterSet(FilterSet):
    q = django_filters.CharFilter(method="filter_q", label="Search")
    name = django_filters.CharFilter()
    version = django_filters.CharFilter()
    sha256 = django_filters.CharFilter()

    class Meta:
        model = SoftwareArtifact
        fields = []

    def filter_q(self, queryset, name, value):
        value = value.strip()
        return (
            queryset.filter(Q(name__icontains=value) | Q(author__icontains=value))
            if value
            else queryset
        )


class PackageFilterSet(FilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Search")
    name = django_filters.CharFilter()

    class Meta:
        model = ReleasePackage
        fields = []


class TargetFilterSet(FilterSet):
    """Deployment targets. `mine`: assigned to the caller (the target's technician, else its
    wave's) or of a CI he owns; `technician`: assigned to that username; `unassigned`: nobody
    assigned (any technician may act)."""

    deployment = django_filters.NumberFilter(field_name="deployment_id")
    wave = django_filters.NumberFilter(field_name="wave_id")
    ci = django_filters.NumberFilter(field_name="ci_id")
    release = django_filters.NumberFilter(field_name="deployment__release_id")
    state = django_filters.MultipleChoiceFilter(choices=TargetState.choices)
    mine = django_filters.BooleanFilter(method="filter_mine", label="Mine")
    technician = django_filters.CharFilter(method="filter_technician", label="Technician")
    unassigned = django_filters.BooleanFilter(method="filter_unassigned", label="Unassigned")

    class Meta:
        model = DeploymentTarget
        fields = []

    def filter_mine(self, queryset, name, value):
        if value is None:
            return queryset
        user = getattr(self.request, "user", None)
        mine = selectors.my_targets(user) if user is not None else Q(pk__in=[])
        return queryset.filter(mine) if value else queryset.exclude(mine)

    def filter_technician(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(technician__username=value)
            | Q(technician__isnull=True, wave__technician__username=value)
        )

    def filter_unassigned(self, queryset, name, value):
        if value is None:
            return queryset
        unassigned = selectors.UNASSIGNED
        return queryset.filter(unassigned) if value else queryset.exclude(unassigned)
