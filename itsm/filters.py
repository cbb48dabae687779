"""Filter backends: unknown query parameters and orderings are refused with a 400.

A typo in a filter (`?stauts=production`) silently returning everything is how scripts
delete the wrong things; we answer 400 and name the parameter instead.
"""

from __future__ import annotations

import django_filters
from django.http import QueryDict
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter

ALWAYS_ALLOWED = {"page", "page_size", "ordering", "format"}


def without_blanks(data: QueryDict | dict | None) -> QueryDict | dict | None:
    """The query without its empty values: `?status=&q=` filters nothing (an "All …" option of
    a filter form sends an empty value). A parameter left with no value is dropped."""
    if data is None:
        return None
    if isinstance(data, QueryDict):
        cleaned = data.copy()
        for key in list(cleaned):
            values = [value for value in cleaned.getlist(key) if str(value).strip()]
            if values:
                cleaned.setlist(key, values)
            else:
                del cleaned[key]
        return cleaned
    return {key: value for key, value in data.items() if str(value).strip()}


class FilterSet(django_filters.FilterSet):
    """Our FilterSet base: an empty value means "no filter", in the HTML lists and the API."""

    def __init__(self, data=None, *args, **kwargs):
        super().__init__(without_blanks(data), *args, **kwargs)


class StrictFilterBackend(DjangoFilterBackend):
    """django-filter backend that rejects query parameters no filter or view declares."""

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        allowed = set(ALWAYS_ALLOWED) | set(getattr(view, "extra_query_params", ()))
        if filterset_class is not None:
            allowed |= set(filterset_class.base_filters)
        unknown = sorted(set(request.query_params) - allowed)
        if unknown:
            raise ValidationError({name: ["Unknown query parameter."] for name in unknown})
        return super().filter_queryset(request, queryset, view)


class AllowListOrderingFilter(OrderingFilter):
    """Ordering only on the fields a view lists in `ordering_fields`; anything else is a 400."""

    def get_valid_fields(self, queryset, view, context=None):
        fields = getattr(view, "ordering_fields", None)
        if not fields or fields == "__all__":
            return []
        return [(field, field) for field in fields]

    def get_ordering(self, request, queryset, view):
        params = request.query_params.get(self.ordering_param)
        if params:
            fields = [param.strip() for param in params.split(",") if param.strip()]
            valid = {
                name for name, _ in self.get_valid_fields(queryset, view, {"request": request})
            }
            bad = [f for f in fields if f.lstrip("-") not in valid]
            if bad:
                raise ValidationError(
                    {
                        self.ordering_param: [
                            f"Cannot order by {', '.join(bad)}. Allowed: {', '.join(sorted(valid))}."
                        ]
                    }
                )
            return fields
        return self.get_default_ordering(view)
