"""Forms of the problem pages: they validate; the views call the services."""

from __future__ import annotations

import re

from django import forms
from django.contrib.auth import get_user_model

from cmdb.models import CIType

from .choices import ResolutionMethod
from .models import Incident
from .problem_choices import TrendDimension, TrendPeriod


class Styled(forms.Form):
    """Bootstrap classes on every widget."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput | forms.CheckboxSelectMultiple):
                widget.attrs.setdefault("class", "form-check-input")
            elif isinstance(widget, forms.Select):
                widget.attrs.setdefault("class", "form-select")
            else:
                widget.attrs.setdefault("class", "form-control")


def parse_ids(values: list[str]) -> list[int]:
    """Incident ids from a multi-value field or comma-separated text (`1,2` or `1 2`)."""
    ids = []
    for value in values:
        for part in re.split(r"[\s,]+", value or ""):
            if part:
                if not part.isdigit():
                    raise forms.ValidationError(f"Not an incident id: {part}.")
                ids.append(int(part))
    return ids


class ProblemForm(Styled):
    title = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False)
    priority = forms.TypedChoiceField(
        choices=[(i, str(i)) for i in range(1, 6)], coerce=int, initial=3
    )
    incidents = forms.CharField(
        required=False,
        help_text="Incident ids, separated by commas.",
        widget=forms.TextInput(attrs={"placeholder": "e.g. 12, 15, 31"}),
    )

    def clean_incidents(self) -> list[int]:
        return parse_ids([self.cleaned_data.get("incidents", "")])


class ProblemEditForm(Styled):
    title = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False)
    priority = forms.TypedChoiceField(choices=[(i, str(i)) for i in range(1, 6)], coerce=int)
    owner = forms.ModelChoiceField(queryset=get_user_model().objects.none(), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = (
            get_user_model().objects.filter(groups__name="Problem Manager").order_by("username")
        )


class LinkForm(Styled):
    incidents = forms.CharField(help_text="Incident ids, separated by commas.")

    def clean_incidents(self) -> list[int]:
        ids = parse_ids([self.cleaned_data["incidents"]])
        if not ids:
            raise forms.ValidationError("Give at least one incident id.")
        return ids


class CauseForm(Styled):
    root_cause = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))
    workaround = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


class PublishForm(Styled):
    symptoms = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    solution = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    publish = forms.BooleanField(
        required=False, initial=True, label="Publish (end users can read it)"
    )


class ResolveForm(forms.Form):
    resolution = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))
    incidents = forms.TypedMultipleChoiceField(
        coerce=int, required=False, widget=forms.CheckboxSelectMultiple,
        label="Also resolve these open incidents",
    )  # fmt: skip

    resolution_method = forms.ChoiceField(
        choices=ResolutionMethod.choices,
        initial=ResolutionMethod.FIX,
        required=False,
        label="Resolution method of the incidents",
        widget=forms.Select(attrs={"class": "form-select"}),
    )

    def __init__(self, *args, open_incidents: list[Incident] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["resolution"].widget.attrs["class"] = "form-control"
        self.fields["incidents"].choices = [(i.pk, f"{i.number} {i.title}") for i in open_incidents]
        self.fields["incidents"].initial = [i.pk for i in open_incidents]


class ReasonForm(Styled):
    reason = forms.CharField(max_length=2000)


class KnownErrorForm(Styled):
    title = forms.CharField(max_length=200)
    symptoms = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    root_cause = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    workaround = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    solution = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    category = forms.CharField(max_length=100, required=False)
    ci_types = forms.ModelMultipleChoiceField(
        queryset=CIType.objects.order_by("name"), required=False, label="CI types"
    )
    published = forms.BooleanField(required=False)


class TrendForm(Styled):
    group_by = forms.ChoiceField(choices=TrendDimension.choices, initial=TrendDimension.CATEGORY)
    period = forms.ChoiceField(choices=TrendPeriod.choices, initial=TrendPeriod.WEEK)
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
