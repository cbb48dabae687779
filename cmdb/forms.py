"""Browser forms of the CMDB. They validate input; the services do the writing."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.urls import reverse

from itsm.datetimes import StorableDateTimeFormField

from . import schema_fields
from .choices import CIRoleKind, CIStatus, ImpactDirection, allowed_moves
from .models import CIType, ConfigurationItem, Department, RelationshipType, Site
from .schema_fields import PrettyJSONField
from .selectors import MAX_IMPACT_DEPTH
from .widgets import AutocompleteSelect

User = get_user_model()


CHOSEN_TYPE = object()  # CIForm's default: the attribute fields follow the chosen type


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        full = obj.get_full_name()
        return f"{full} ({obj.get_username()})" if full else obj.get_username()


class CIForm(forms.Form):
    """Create or edit a CI. `version` carries the version the user loaded (optimistic locking).

    The attributes are rendered as one field per property of the CI type's JSON Schema
    (`schema_fields`), chosen from the posted type (or the initial one); keys the schema does
    not describe stay in the "Other attributes" JSON box, so an edit never drops them.
    `cleaned_data["attributes"]` is the merged object the services take.
    """

    name = forms.CharField(max_length=200)
    ci_type = forms.ModelChoiceField(queryset=CIType.objects.all(), label="Type")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    managed = forms.BooleanField(required=False, initial=True)
    owner = UserChoiceField(
        queryset=User.objects.order_by("username"),
        required=False,
        widget=AutocompleteSelect("cmdb:lookup-users", placeholder="Search people…"),
    )
    department = forms.ModelChoiceField(queryset=Department.objects.all(), required=False)
    site = forms.ModelChoiceField(queryset=Site.objects.all(), required=False)
    serial_number = forms.CharField(max_length=100, required=False)
    asset_tag = forms.CharField(max_length=100, required=False)
    hostname = forms.CharField(max_length=255, required=False)
    uuid = forms.CharField(max_length=40, required=False, label="UUID")
    attributes = PrettyJSONField(
        required=False,
        label="Other attributes",
        help_text="Attributes the type's schema does not describe, as a JSON object.",
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, ci_type: CIType | object | None = CHOSEN_TYPE, **kwargs):
        """`ci_type` picks the schema of the attribute fields; by default the posted type, or
        the initial one."""
        super().__init__(*args, **kwargs)
        self.attribute_type = self._chosen_type() if ci_type is CHOSEN_TYPE else ci_type
        self.schema = self.attribute_type.attribute_schema if self.attribute_type else {}
        attribute_fields = schema_fields.build_fields(self.schema)
        self.attribute_names = list(attribute_fields)
        # Attribute fields go just before the "Other attributes" box.
        ordered = {}
        for name, field in self.fields.items():
            if name == "attributes":
                ordered.update(attribute_fields)
            ordered[name] = field
        self.fields = ordered
        self._split_initial_attributes()
        for name, field in self.fields.items():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput | forms.CheckboxSelectMultiple):
                css = "form-check-input"
            elif isinstance(widget, forms.Select):
                css = "form-select"
            else:
                css = "form-control"
            widget.attrs.setdefault("class", css)
            if name == "attributes":
                widget.attrs["class"] += " font-monospace"
            if getattr(field, "schema_required", False):
                widget.attrs["aria-required"] = "true"
        self.fields["ci_type"].widget.attrs.update(
            {
                "hx-get": reverse("cmdb:ci-attribute-fields"),
                "hx-trigger": "change",
                "hx-target": "#ci-attributes",
                "hx-include": "closest form",
                "hx-swap": "innerHTML",
            }
        )

    def _chosen_type(self) -> CIType | None:
        value = self.data.get("ci_type") if self.is_bound else self.initial.get("ci_type")
        if isinstance(value, CIType):
            return value
        if value in (None, "") or not str(value).isdigit():
            return None
        return CIType.objects.filter(pk=int(value)).first()

    def _split_initial_attributes(self) -> None:
        """Spread the initial `attributes` over the schema's fields and the JSON box."""
        self.initial = dict(self.initial)
        attributes = self.initial.get("attributes")
        if not isinstance(attributes, dict):
            self.initial.setdefault("attributes", {})
            return
        known = schema_fields.properties(self.schema)
        for key, value in attributes.items():
            if key in known:
                self.initial[schema_fields.PREFIX + key] = value
        self.initial["attributes"] = {k: v for k, v in attributes.items() if k not in known}

    @property
    def base_fields_bound(self):
        """Bound fields above the attributes (everything else but the hidden version)."""
        skip = {*self.attribute_names, "attributes", "version"}
        return [self[name] for name in self.fields if name not in skip]

    @property
    def attribute_fields_bound(self):
        return [self[name] for name in self.attribute_names]

    def clean_attributes(self):
        value = self.cleaned_data.get("attributes")
        if value in (None, ""):
            return {}
        if not isinstance(value, dict):
            raise forms.ValidationError(
                'Other attributes must be a JSON object, e.g. {"rack": "B4"}.'
            )
        return value

    def clean(self):
        """Merge the schema's fields into the "Other attributes" object: a filled field sets its
        key; an empty (or unchecked) one drops it, unless the box itself gives that key."""
        cleaned = super().clean()
        box = cleaned.get("attributes")
        box = dict(box) if isinstance(box, dict) else {}
        attributes = dict(box)
        for name in self.attribute_names:
            key = name.removeprefix(schema_fields.PREFIX)
            if name not in cleaned:  # the field had an error
                continue
            value = cleaned.pop(name)
            if not schema_fields.is_empty(value) and value is not False:
                attributes[key] = value
            elif key not in box:
                attributes.pop(key, None)
                if value is False:
                    attributes[key] = False
        if "attributes" in cleaned or not self.has_error("attributes"):
            cleaned["attributes"] = attributes
        return cleaned

    def add_error(self, field, error):
        """Route the service's attribute messages ("port: …", "'os' is a required property")
        to the field they concern; the rest go above the form."""
        if field == "attributes" or (field is None and isinstance(error, list | str)):
            messages = error if isinstance(error, list) else [error]
            names = set(self.attribute_names)
            for message in messages:
                target, text = schema_fields.attribute_error_field(str(message), names)
                if target is None:
                    target = "attributes" if field == "attributes" else None
                    text = str(message)
                super().add_error(target, text)
            return
        super().add_error(field, error)

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
    other = forms.CharField(
        max_length=200,
        label="Other CI (id or exact name)",
        widget=AutocompleteSelect(
            "cmdb:lookup-cis",
            placeholder="Other CI: type a name…",
            attrs={"class": "form-select form-select-sm", "aria-label": "Other CI"},
        ),
    )

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
    user = UserChoiceField(
        queryset=User.objects.order_by("username"),
        to_field_name="username",
        widget=AutocompleteSelect(
            "cmdb:lookup-users",
            placeholder="Search people…",
            value_field="username",
            attrs={"class": "form-select form-select-sm", "aria-label": "Person"},
        ),
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
