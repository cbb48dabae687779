"""Browser forms of change management. They only validate: the views call the services."""

from __future__ import annotations

from django import forms
from django.utils import timezone

from cmdb.models import ConfigurationItem
from cmdb.widgets import AutocompleteSelect
from incidents.models import Incident

from .choices import ChangeType, ReviewOutcome
from .models import ApprovalBody, Change, StandardChangeTemplate

DATETIME_INPUT = {"type": "datetime-local", "class": "form-control"}
DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]


class AutocompleteSelectMultiple(AutocompleteSelect):
    """The CMDB's Tom Select look-up, choosing several values."""

    allow_multiple_selected = True

    def value_from_datadict(self, data, files, name):
        getter = getattr(data, "getlist", None)
        return getter(name) if getter else data.get(name)

    def value_omitted_from_data(self, data, files, name):
        return False


def _datetime_field(label: str, *, required: bool = False) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        required=required,
        input_formats=DATETIME_FORMATS,
        widget=forms.DateTimeInput(attrs=DATETIME_INPUT, format="%Y-%m-%dT%H:%M"),
    )


class BootstrapMixin:
    """Bootstrap classes on every widget."""

    def _style(self) -> None:
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, (forms.CheckboxInput, forms.CheckboxSelectMultiple)):
                continue
            if isinstance(widget, forms.RadioSelect):
                continue
            css = "form-select" if isinstance(widget, forms.Select) else "form-control"
            widget.attrs.setdefault("class", css)


class ChangeForm(BootstrapMixin, forms.ModelForm):
    """A draft RFC (or one returned for information): what, on which CIs, how, when."""

    cis = forms.ModelMultipleChoiceField(
        label="CIs to change",
        queryset=ConfigurationItem.objects.all(),
        required=False,
        widget=AutocompleteSelectMultiple("cmdb:lookup-cis", placeholder="Type a CI name…"),
        help_text="Type to search the CMDB.",
    )
    planned_start = _datetime_field("Planned start")
    planned_end = _datetime_field("Planned end")

    class Meta:
        model = Change
        fields = [
            "title",
            "template",
            "change_type",
            "category",
            "reason",
            "priority",
            "description",
            "cis",
            "implementation_plan",
            "backout_plan",
            "estimated_hours",
            "resources",
            "planned_start",
            "planned_end",
            "technical_assessment",
        ]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "implementation_plan": forms.Textarea(attrs={"rows": 4}),
            "backout_plan": forms.Textarea(attrs={"rows": 4}),
            "resources": forms.Textarea(attrs={"rows": 2}),
            "technical_assessment": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["template"].queryset = StandardChangeTemplate.objects.filter(active=True)
        self.fields[
            "template"
        ].help_text = "A standard change from the catalogue: its plans fill the form."
        self._style()

    def clean(self):
        data = super().clean()
        start, end = data.get("planned_start"), data.get("planned_end")
        if start and end and end <= start:
            self.add_error("planned_end", "The planned end must be after the planned start.")
        if data.get("change_type") == ChangeType.STANDARD and not data.get("template"):
            self.add_error("template", "A standard change comes from a catalogue template.")
        return data

    def _post_clean(self) -> None:
        """Validation of the model is the service's (it shows as form errors)."""


class CommentForm(forms.Form):
    """A comment or reason sent with an action (resubmit, cancel, close, implement)."""

    comment = forms.CharField(
        label="Comment",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2, "class": "form-control"}),
    )


class VoteForm(forms.Form):
    """A CAB member's decision on an RFC: approve, reject or ask for information."""

    DECISIONS = [("approve", "Approve"), ("reject", "Reject"), ("request_info", "Ask for info")]
    decision = forms.ChoiceField(choices=DECISIONS)
    comment = forms.CharField(required=False, max_length=2000)

    def clean(self):
        data = super().clean()
        if data.get("decision") == "request_info" and not (data.get("comment") or "").strip():
            self.add_error("comment", "Say what information is needed.")
        return data


class ScheduleForm(BootstrapMixin, forms.Form):
    """A window on the calendar for an approved RFC, with an override reason for blackouts."""

    start = _datetime_field("Start", required=True)
    end = _datetime_field("End", required=True)
    override_reason = forms.CharField(
        label="Blackout override reason",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Needed (with the Change Manager role) to schedule inside a blackout period.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._style()

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and end <= start:
            self.add_error("end", "The end must be after the start.")
        return data


class ReviewForm(BootstrapMixin, forms.Form):
    """The post-implementation review: outcome, notes, incidents the change caused."""

    outcome = forms.ChoiceField(choices=ReviewOutcome.choices, widget=forms.RadioSelect)
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    incidents = forms.ModelMultipleChoiceField(
        label="Incidents caused (suspected: logged on the changed CIs during and after the window)",
        queryset=Incident.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    other_incidents = forms.CharField(
        label="Other incidents caused",
        required=False,
        help_text="Incident numbers, separated by commas (e.g. INC-000042).",
    )

    def __init__(self, *args, suspected=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if suspected is not None:
            self.fields["incidents"].queryset = suspected
        self._style()

    def clean_other_incidents(self) -> list[Incident]:
        numbers = [n.strip() for n in self.cleaned_data["other_incidents"].split(",") if n.strip()]
        found = {i.number.upper(): i for i in Incident.objects.filter(number__in=numbers)}
        missing = [n for n in numbers if n.upper() not in found]
        if missing:
            raise forms.ValidationError(f"Unknown incidents: {', '.join(missing)}.")
        return list(found.values())


class MeetingForm(BootstrapMixin, forms.Form):
    """A CAB meeting: its agenda is built from the RFCs waiting for the body."""

    body = forms.ModelChoiceField(queryset=ApprovalBody.objects.all(), label="Board")
    title = forms.CharField(max_length=200)
    start = _datetime_field("Start", required=True)
    end = _datetime_field("End")
    location = forms.CharField(max_length=200, required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._style()
        if not self.is_bound:
            self.initial.setdefault("start", timezone.localtime().replace(second=0, microsecond=0))

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and end <= start:
            self.add_error("end", "The meeting must end after it starts.")
        return data


class DecisionForm(BootstrapMixin, forms.Form):
    """What a meeting decided about an RFC on its agenda."""

    decision = forms.ChoiceField(
        choices=[
            ("approve", "Approve"),
            ("reject", "Reject"),
            ("request_info", "Ask for information"),
            ("defer", "Defer"),
        ]
    )
    notes = forms.CharField(required=False, max_length=2000)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._style()
