"""One FilterSet per listed model, shared by the HTML lists and the API."""

from __future__ import annotations

import django_filters
from django.contrib.auth import get_user_model
from django.db.models import Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from itsm.datetimes import StorableIsoDateTimeFilter
from itsm.filters import FilterSet

from .choices import CIStatus
from .identifiers import normalize_hostname
from .models import CIType, ConfigurationItem, Department, Relationship, RelationshipType, Site
from .selectors import cis_running


@extend_schema_field(OpenApiTypes.STR)
class SlugMultipleChoiceFilter(django_filters.ModelMultipleChoiceFilter):
    """Several objects by slug: `?ci_type=server&ci_type=laptop`."""


class CIFilterSet(FilterSet):
    """Filters of the CI list: `?ci_type=server&status=production&software=openssl&software_version=3.0.2`."""

    q = django_filters.CharFilter(method="filter_q", label="Search")
    ci_type = SlugMultipleChoiceFilter(
        field_name="ci_type",
        to_field_name="slug",
        queryset=CIType.objects.all(),
        label="Type",
        method="filter_ci_type",
    )
    status = django_filters.MultipleChoiceFilter(choices=CIStatus.choices, distinct=False)
    managed = django_filters.BooleanFilter()
    hostname = django_filters.CharFilter(method="filter_hostname")
    serial_number = django_filters.CharFilter()
    asset_tag = django_filters.CharFilter()
    uuid = django_filters.CharFilter(method="filter_uuid", label="UUID")
    owner = django_filters.ModelChoiceFilter(queryset=get_user_model().objects.all())
    department = django_filters.ModelChoiceFilter(queryset=Department.objects.all())
    site = django_filters.ModelChoiceFilter(queryset=Site.objects.all())
    software = django_filters.CharFilter(method="filter_noop", label="Software (product name)")
    software_version = django_filters.CharFilter(method="filter_noop", label="Software version")
    updated_after = StorableIsoDateTimeFilter(field_name="updated", lookup_expr="gte")
    updated_before = StorableIsoDateTimeFilter(field_name="updated", lookup_expr="lt")

    class Meta:
        model = ConfigurationItem
        fields = []

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(name__icontains=value)
            | Q(hostname__icontains=value.lower())
            | Q(serial_number__iexact=value)
            | Q(asset_tag__iexact=value)
            | Q(description__icontains=value)
        )

    def filter_ci_type(self, queryset, name, value):
        # By id, with the types the form already resolved: no join on the slug, no DISTINCT.
        return queryset.filter(ci_type__in=value) if value else queryset

    def filter_hostname(self, queryset, name, value):
        return queryset.filter(hostname=normalize_hostname(value))

    def filter_uuid(self, queryset, name, value):
        from .identifiers import normalize_uuid

        return queryset.filter(uuid=normalize_uuid(value))

    def filter_noop(self, queryset, name, value):
        return queryset  # software and software_version are applied together in filter_queryset

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        product = self.form.cleaned_data.get("software")
        version = self.form.cleaned_data.get("software_version")
        if product:
            queryset = cis_running(queryset, product=product, version=version or None)
        elif version:
            from .models import InstalledSoftware

            queryset = queryset.filter(
                pk__in=InstalledSoftware.objects.filter(software__version=version).values("ci_id")
            )
        return queryset


class RelationshipFilterSet(FilterSet):
    """Filters of the relationship list: by either end, by type."""

    source = django_filters.NumberFilter(field_name="source_id")
    target = django_filters.NumberFilter(field_name="target_id")
    ci = django_filters.NumberFilter(method="filter_ci", label="Either end")
    type = SlugMultipleChoiceFilter(
        field_name="type__slug", to_field_name="slug", queryset=RelationshipType.objects.all()
    )

    class Meta:
        model = Relationship
        fields = []

    def filter_ci(self, queryset, name, value):
        return queryset.filter(Q(source_id=value) | Q(target_id=value))


class CITypeFilterSet(FilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains")
    slug = django_filters.CharFilter()

    class Meta:
        model = CIType
        fields = []


class RelationshipTypeFilterSet(FilterSet):
    slug = django_filters.CharFilter()

    class Meta:
        model = RelationshipType
        fields = []
