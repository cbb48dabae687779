"""Forms of the help desk and the self-service portal. They only validate: the views hand
their cleaned data to `incidents.services`, which holds every rule."""

from __future__ import annotations

import json

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from cmdb.lookups import user_label
from cmdb.models import ConfigurationItem
from cmdb.widgets import AutocompleteSelect

from .choices import PRIORITY_MATRIX, Cause, Level, ResolutionMethod, Severity

User = get_user_model()


class AutocompleteSelectMultiple(AutocompleteSelect):
    """Several values chosen by typing (Tom Select on a `<select multiple>`)."""

    allow_multiple_selected = True

    def build_attrs(self, base_attrs, extra_attrs=None):
        attrs = super().build_attrs(base_attrs, extra_attrs)
        attrs["multiple"] = True
        return attrs

    def optgroups(self, name, value, attrs=None):
        groups = super().optgroups(name, value, attrs)
        # No empty choice in a multiple select.
        return [(None, [o for o in groups[0][1] if o["value"] != ""], 0)]

    def value_from_datadict(self, data, files, name):
        getter = getattr(data, "getlist", None)
        return getter(name) if getter else data.get(name)


class CILookupSelect(AutocompleteSelectMultiple):
    """The CIs of an incident: set up by static/js/incidents.js, which sends the chosen
    caller so their own devices come first."""

    def build_attrs(self, base_attrs, extra_attrs=None):
        attrs = super().build_attrs(base_attrs, extra_attrs)
        attrs["data-ci-lookup"] = attrs.pop("data-autocomplete")
        return attrs


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return user_label(obj.first_name, obj.last_name, obj.username)


class StyledForm(forms.Form):
    """A form whose widgets carry Bootstrap's classes (as the CMDB's forms do)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput | forms.RadioSelect):
                css = "form-check-input"
            elif isinstance(widget, forms.Select):
                css = "form-select"
            else:
                css = "form-control"
            widget.attrs.setdefault("class", css)


def priority_matrix_json() -> str:
    """impact → urgency → priority, for the live priority of the forms (static/js)."""
    matrix: dict[str, dict[str, int]] = {}
    for (impact, urgency), priority in PRIORITY_MATRIX.items():
        matrix.setdefault(str(impact), {})[str(urgency)] = priority
    return json.dumps(matrix)


def _ci_field(required: bool = False) -> forms.ModelMultipleChoiceField:
    return forms.ModelMultipleChoiceField(
        label="Configuration items",
        queryset=ConfigurationItem.objects.all(),
        required=required,
        widget=CILookupSelect(
            "incidents:lookup-cis", placeholder="Name, host name, serial, asset tag…"
        ),
    )


class ClassificationFields(StyledForm):
    category = forms.CharField(
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"list": "incident-categories", "autocomplete": "off"}),
    )
    cause = forms.ChoiceField(choices=[("", "—"), *Cause.choices], required=False)
    severity = forms.ChoiceField(choices=Severity.choices, initial=Severity.MODERATE)
    impact = forms.ChoiceField(
        choices=Level.choices, initial=Level.MEDIUM, widget=forms.Select(attrs={"data-impact": ""})
    )
    urgency = forms.ChoiceField(
        choices=Level.choices,
        initial=Level.MEDIUM,
        widget=forms.Select(attrs={"data-urgency": ""}),
    )


class IncidentForm(ClassificationFields):
    """The fast logging form of the help desk."""

    title = forms.CharField(
        max_length=200,
        widget=forms.TextInput(
            attrs={
                "autofocus": True,
                "autocomplete": "off",
                "hx-get": "/known-errors/suggest/",
                "hx-trigger": "input changed delay:300ms",
                "hx-target": "#known-error-suggestions",
                "hx-include": "#id_category, #id_cis",
            }
        ),
    )
    caller = UserChoiceField(
        queryset=User.objects.filter(is_active=True),
        required=False,
        widget=AutocompleteSelect("cmdb:lookup-users", placeholder="Search people…"),
        help_text="Leave empty when you are the caller.",
    )
    cis = _ci_field()
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False)
    assign_to_me = forms.BooleanField(required=False, initial=True, label="Assign to me")
    assignment_group = forms.ModelChoiceField(
        queryset=Group.objects.order_by("name"), required=False, label="Group"
    )

    field_order = [
        "title",
        "caller",
        "cis",
        "category",
        "cause",
        "severity",
        "impact",
        "urgency",
        "description",
        "assign_to_me",
        "assignment_group",
    ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["caller"].widget.attrs.update(
            {
                "hx-get": "/incidents/lookup/caller/",
                "hx-trigger": "change",
                "hx-target": "#caller-card",
                "hx-swap": "innerHTML",
            }
        )


class ClassificationForm(ClassificationFields):
    """Edit an incident's classification and CIs, with the version it was read at."""

    title = forms.CharField(max_length=200)
    cis = _ci_field()
    version = forms.IntegerField(widget=forms.HiddenInput)
    field_order = ["title", "category", "cause", "severity", "impact", "urgency", "cis"]


class AssignForm(StyledForm):
    assignee = UserChoiceField(
        queryset=User.objects.filter(is_active=True),
        required=False,
        widget=AutocompleteSelect("cmdb:lookup-users", placeholder="Search people…"),
    )
    group = forms.ModelChoiceField(queryset=Group.objects.order_by("name"), required=False)
    note = forms.CharField(required=False, max_length=1000)


class ReasonForm(StyledForm):
    reason = forms.CharField(max_length=200)


class ResolveForm(StyledForm):
    resolution_method = forms.ChoiceField(
        label="Method", choices=[("", "—"), *ResolutionMethod.choices]
    )
    resolution = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))


class EscalateForm(StyledForm):
    reason = forms.CharField(max_length=500)
    group = forms.ModelChoiceField(queryset=Group.objects.order_by("name"), required=False)
    raise_priority = forms.BooleanField(required=False, label="Raise the priority")


class WorklogForm(StyledForm):
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))
    minutes = forms.IntegerField(min_value=0, max_value=100_000, required=False, initial=0)
    public = forms.BooleanField(required=False, label="Visible to the caller")


class LinkForm(StyledForm):
    number = forms.CharField(label="Incident number", max_length=20)


class SavedFilterForm(StyledForm):
    name = forms.CharField(max_length=80)
    query = forms.CharField(max_length=1000, required=False, widget=forms.HiddenInput)


# --- Self-service portal ---------------------------------------------------------------

#: How urgent, in plain words → urgency.
PLAIN_URGENCY = [
    (Level.LOW, "It can wait — I can keep working"),
    (Level.MEDIUM, "It slows me down"),
    (Level.HIGH, "I cannot work at all"),
]


class PortalReportForm(StyledForm):
    """An end user's report, in plain words."""

    title = forms.CharField(
        label="What happened?",
        max_length=200,
        widget=forms.TextInput(
            attrs={"autofocus": True, "placeholder": "e.g. My laptop does not connect to the Wi-Fi"}
        ),
    )
    description = forms.CharField(
        label="Tell us more (optional)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    device = forms.ModelChoiceField(
        label="Which of your devices?",
        queryset=ConfigurationItem.objects.none(),
        required=False,
        empty_label="None of them / I don't know",
    )
    urgency = forms.ChoiceField(
        label="How urgent is it?",
        choices=PLAIN_URGENCY,
        initial=Level.MEDIUM,
        widget=forms.RadioSelect,
    )

    def __init__(self, *args, devices=None, **kwargs):
        super().__init__(*args, **kwargs)
        if devices is not None:
            self.fields["device"].queryset = devices


class CommentForm(StyledForm):
    note = forms.CharField(label="Your comment", widget=forms.Textarea(attrs={"rows": 3}))


class PortalReopenForm(StyledForm):
    reason = forms.CharField(label="What is still wrong?", max_length=200)
