"""Browser forms of the CMDB. They validate input; the services do the writing."""

from __future__ import annotations

import json

from django import forms
from django.contrib.auth import get_user_model

from itsm.datetimes import StorableDateTimeFormField
from itsm.parsers import has_unstorable

from .choices import CIRoleKind, CIStatus, ImpactDirection, allowed_moves
from .models import CIType, ConfigurationItem, Department, RelationshipType, Site
from .selectors import MAX_IMPACT_DEPTH

User = get_user_model()


class PrettyJSONField(forms.JSONField):
    """A JSON textarea that shows stored values indented."""

    def prepare_value(self, value):
        if isinstance(value, str):
            return value
        value = value if value is not None else {}
        text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
        if has_unstorable(text):  # a lone surrogate sent back: shown escaped, not a 500
            text = json.dumps(value, indent=2, sort_keys=True)
        return text


class CIForm(forms.Form):
    """Create or edit a CI. `version` carries the version the user loaded (optimistic locking)."""

    name = forms.CharField(max_length=200)
    ci_type = forms.ModelChoiceField(queryset=CIType.objects.all(), label="Type")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    managed = forms.BooleanField(required=False, initial=True)
    owner = forms.ModelChoiceField(queryset=User.objects.order_by("username"), required=False)
    department = forms.ModelChoiceField(queryset=Department.objects.all(), required=False)
    site = forms.ModelChoiceField(queryset=Site.objects.all(), required=False)
    serial_number = forms.CharField(max_length=100, required=False)
    asset_tag = forms.CharField(max_length=100, required=False)
    hostname = forms.CharField(max_length=255, required=False)
    uuid = forms.CharField(max_length=40, required=False, label="UUID")
    attributes = PrettyJSONField(
        required=False, widget=forms.Textarea(attrs={"rows": 8, "class": "font-monospace"})
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            css = (
                "form-check-input"
                if isinstance(field.widget, forms.CheckboxInput)
                else "form-control"
            )
            if isinstance(field.widget, forms.Select):
                css = "form-select"
            field.widget.attrs.setdefault("class", css)
            field.widget.attrs["class"] += " font-monospace" if name == "attributes" else ""

    def clean_attributes(self):
        value = self.cleaned_data.get("attributes")
        if value in (None, ""):
            return {}
        if not isinstance(value, dict):
            raise forms.ValidationError(
                'Attributes must be a JSON object, e.g. {"os": "Debian 12"}.'
            )
        return value

    @classmethod
    def initial_for(cls, ci: ConfigurationItem) -> dict:
        return {
            "name": ci.name,
            "ci_type": ci.ci_type_id,
            "description": ci.description,
            "managed": ci.managed,
            "owner": ci.owner_id,
            "department": ci.department_id,
            "site": ci.site_id,
            "serial_number": ci.serial_number,
            "asset_tag": ci.asset_tag,
            "hostname": ci.hostname,
            "uuid": ci.uuid,
            "attributes": ci.attributes,
            "version": ci.version,
        }


class TransitionForm(forms.Form):
    """A lifecycle move: only the statuses allowed from the CI's current one are offered."""

    status = forms.ChoiceField(choices=CIStatus.choices)
    reason = forms.CharField(max_length=2000, required=False)

    def __init__(self, *args, ci: ConfigurationItem | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if ci is not None:
            allowed = set(allowed_moves(ci.status))
            self.fields["status"].choices = [c for c in CIStatus.choices if c[0] in allowed]


class RelationshipForm(forms.Form):
    """Link this CI to another one, in either direction."""

    DIRECTION_CHOICES = [("outgoing", "this CI → other"), ("incoming", "other → this CI")]
    direction = forms.ChoiceField(choices=DIRECTION_CHOICES)
    type = forms.ModelChoiceField(queryset=RelationshipType.objects.all())
    other = forms.CharField(max_length=200, label="Other CI (id or exact name)")

    def clean_other(self):
        value = self.cleaned_data["other"].strip()
        qs = ConfigurationItem.objects.all()
        matches = (
            list(qs.filter(pk=int(value))[:2])
            if value.isdigit()
            else list(qs.filter(name=value)[:2])
        )
        if not matches:
            raise forms.ValidationError(f"No CI called '{value}'.")
        if len(matches) > 1:
            raise forms.ValidationError(f"Several CIs are called '{value}'; give the id instead.")
        return matches[0]


class RoleForm(forms.Form):
    user = forms.ModelChoiceField(
        queryset=User.objects.order_by("username"), to_field_name="username"
    )
    role = forms.ChoiceField(choices=CIRoleKind.choices)


class ImpactForm(forms.Form):
    direction = forms.ChoiceField(
        choices=ImpactDirection.choices, initial=ImpactDirection.DOWNSTREAM, required=False
    )
    depth = forms.IntegerField(min_value=1, max_value=MAX_IMPACT_DEPTH, initial=3, required=False)


class AsOfForm(forms.Form):
    at = StorableDateTimeFormField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))


class ImportForm(forms.Form):
    KIND_CHOICES = [("cis", "Configuration items"), ("relationships", "Relationships")]
    kind = forms.ChoiceField(choices=KIND_CHOICES)
    file = forms.FileField(help_text="CSV with a header row; see the export for the columns.")
    dry_run = forms.BooleanField(
        required=False, initial=True, label="Dry run (check only, write nothing)"
    )
