"""Browser forms of the agents app. They validate input; the services do the writing."""

from __future__ import annotations

from django import forms

from cmdb.models import CIType

from .choices import DiscrepancyStatus
from .models import AgentGroup


class BootstrapMixin:
    """Give every widget its Bootstrap class."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(widget, forms.Select):
                css = "form-select"
            else:
                css = "form-control"
            widget.attrs.setdefault("class", css)


class AgentUpdateForm(BootstrapMixin, forms.Form):
    """An agent's collection policy and whether it may report other devices."""

    group = forms.ModelChoiceField(
        queryset=AgentGroup.objects.all(), required=False, label="Policy", empty_label="(none)"
    )
    is_collector = forms.BooleanField(
        required=False,
        label="Network collector",
        help_text="May report other devices (SNMP); its key is then not bound to one machine.",
    )


class EnrollmentTokenForm(BootstrapMixin, forms.Form):
    """A new one-time enrolment secret."""

    expires_in_hours = forms.FloatField(
        label="Expires in (hours)",
        initial=24,
        min_value=0.01,
        max_value=24 * 30,
        help_text="At most 720 hours (30 days).",
    )
    auto_approve = forms.BooleanField(
        required=False,
        label="Approve automatically",
        help_text="The agent may report at once, without waiting for approval.",
    )
    group = forms.ModelChoiceField(
        queryset=AgentGroup.objects.all(),
        required=False,
        label="Policy",
        empty_label="(default)",
    )
    note = forms.CharField(
        max_length=200, required=False, help_text="What it is for, e.g. the machine it enrols."
    )


class AgentGroupForm(BootstrapMixin, forms.ModelForm):
    """A collection policy: what agents of the group collect and how often."""

    default_ci_type = forms.ModelChoiceField(
        queryset=CIType.objects.all(),
        required=False,
        label="Default CI type",
        empty_label="(guess from the report)",
        help_text="Class of the CIs created for new computers of this group.",
    )

    class Meta:
        model = AgentGroup
        fields = [
            "name",
            "description",
            "interval_seconds",
            "stale_after_missed",
            "collect_hardware",
            "collect_software",
            "collect_storage",
            "collect_security",
            "collect_events",
            "default_ci_type",
            "raise_incidents",
        ]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["interval_seconds"].widget.attrs.update({"min": 60, "max": 7 * 86400})
        self.fields["interval_seconds"].help_text = "Between 60 seconds and 7 days."
        self.fields["stale_after_missed"].widget.attrs["min"] = 1

    def clean_interval_seconds(self):
        value = self.cleaned_data["interval_seconds"]
        if not 60 <= value <= 7 * 86400:
            raise forms.ValidationError("Between 60 seconds and 7 days.")
        return value

    def clean_stale_after_missed(self):
        value = self.cleaned_data["stale_after_missed"]
        if value < 1:
            raise forms.ValidationError("At least one missed report.")
        return value


class CloseDiscrepancyForm(forms.Form):
    """Resolve (it was fixed) or accept (it is expected) an open discrepancy."""

    status = forms.ChoiceField(
        choices=[
            (DiscrepancyStatus.RESOLVED, "Resolve"),
            (DiscrepancyStatus.ACCEPTED, "Accept"),
        ]
    )
    resolution = forms.CharField(max_length=2000, required=False)
