"""Form widgets of the CMDB's browser forms."""

from __future__ import annotations

from django import forms
from django.urls import reverse


class AutocompleteSelect(forms.Select):
    """A select that renders only its chosen option; Tom Select (static/js/autocomplete.js)
    fetches the others from a JSON look-up as the user types.

    `lookup` is the URL name of the look-up (`cmdb:lookup-users`, `cmdb:lookup-cis`). A select of
    242 users would cost a query and a page of options; this costs one query for the chosen one.
    """

    def __init__(
        self,
        lookup: str,
        *,
        placeholder: str = "Type to search…",
        value_field: str = "id",
        attrs=None,
    ):
        super().__init__(attrs=attrs)
        self.lookup = lookup
        self.placeholder = placeholder
        self.value_field = value_field

    def build_attrs(self, base_attrs, extra_attrs=None):
        attrs = super().build_attrs(base_attrs, extra_attrs)
        attrs["data-autocomplete"] = reverse(self.lookup)
        attrs["data-placeholder"] = self.placeholder
        attrs["data-value-field"] = self.value_field
        return attrs

    def optgroups(self, name, value, attrs=None):
        """Only the empty choice and the selected ones, looked up in one query."""
        chosen = [str(v) for v in value if v not in (None, "")]
        options = [self.create_option(name, "", "", not chosen, 0)]
        queryset = getattr(self.choices, "queryset", None)
        if chosen and queryset is not None:
            field = getattr(self.choices, "field", None)
            key = getattr(field, "to_field_name", None) or "pk"
            valid = [v for v in chosen if key != "pk" or v.isdigit()]
            for index, obj in enumerate(queryset.filter(**{f"{key}__in": valid}), start=1):
                label = field.label_from_instance(obj) if field else str(obj)
                options.append(self.create_option(name, str(getattr(obj, key)), label, True, index))
        elif chosen:  # a plain field (no queryset): show what was typed as the choice
            options += [
                self.create_option(name, v, v, True, i) for i, v in enumerate(chosen, start=1)
            ]
        return [(None, options, 0)]
