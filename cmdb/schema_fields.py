"""Form fields built from a CI type's attribute JSON Schema, one per property.

The form only turns inputs into JSON values of the right type (integers as ints, booleans as
booleans, comma lists as arrays); the JSON Schema itself is checked by
`cmdb.services.validate_attributes`, whose messages `attribute_error_field` routes back to the
field they concern.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms

from itsm.parsers import has_unstorable

PREFIX = "attr__"

INPUT_TYPES = {"uri": "url", "url": "url", "email": "email", "date": "date"}


class PrettyJSONField(forms.JSONField):
    """A JSON textarea that shows stored values indented."""

    def prepare_value(self, value):
        if isinstance(value, str):
            return value
        if value is None:
            return ""
        text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
        if has_unstorable(text):  # a lone surrogate sent back: shown escaped, not a 500
            text = json.dumps(value, indent=2, sort_keys=True)
        return text


class CommaListField(forms.CharField):
    """An array of strings typed as a comma-separated list."""

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return ", ".join(str(v) for v in value)
        return value

    def to_python(self, value):
        text = super().to_python(value)
        return [part.strip() for part in text.split(",") if part.strip()] if text else []


class EnumField(forms.ChoiceField):
    """A select of a schema `enum`; the chosen value comes back with its JSON type."""

    def __init__(self, values: list[Any], **kwargs):
        self.values = {self.key(v): v for v in values}
        super().__init__(choices=[("", "—"), *((k, k) for k in self.values)], **kwargs)

    @staticmethod
    def key(value: Any) -> str:
        return value if isinstance(value, str) else json.dumps(value)

    def prepare_value(self, value):
        return "" if value is None else self.key(value)

    def clean(self, value):
        value = super().clean(value)
        return self.values.get(value)


class NumberField(forms.FloatField):
    """A JSON Schema `number`: whole numbers are kept as ints."""

    def clean(self, value):
        value = super().clean(value)
        return int(value) if isinstance(value, float) and value.is_integer() else value


def properties(schema: Any) -> dict[str, dict]:
    """The schema's top-level properties (dict) that are themselves schema objects."""
    if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
        return {}
    return {k: v for k, v in schema["properties"].items() if isinstance(v, dict)}


ACRONYMS = {"os", "cpu", "mb", "gb", "tb", "sla", "url", "uuid", "id", "ip", "mac", "dns", "sku"}


def label_of(key: str) -> str:
    """`cpu_cores` → "CPU cores", `memory_mb` → "Memory MB"."""
    words = [w.upper() if w.lower() in ACRONYMS else w for w in key.replace("-", "_").split("_")]
    words = [w for w in words if w]
    if not words:
        return key
    return " ".join([words[0][:1].upper() + words[0][1:], *words[1:]])


def ordered_properties(schema: Any) -> list[tuple[str, dict]]:
    """Properties in a stable, useful order (JSONB does not keep the schema's): required first,
    then the expected ones (`x-expected`), then the rest, each group by name."""
    props = properties(schema)
    required = set(schema.get("required", [])) if props else set()
    expected = set(schema.get("x-expected", [])) if props else set()
    return sorted(
        props.items(), key=lambda kv: (kv[0] not in required, kv[0] not in expected, kv[0])
    )


def _bounds(prop: dict) -> dict:
    bounds = {}
    if isinstance(prop.get("minimum"), int | float):
        bounds["min_value"] = prop["minimum"]
    if isinstance(prop.get("maximum"), int | float):
        bounds["max_value"] = prop["maximum"]
    return bounds


def field_for(key: str, prop: dict, *, required: bool) -> forms.Field:
    """One Django form field for one schema property. A required property is marked
    (`schema_required`), not enforced here: the service's JSON Schema check says so on the field."""
    field = _field_for(key, prop)
    field.schema_required = required
    return field


def _field_for(key: str, prop: dict) -> forms.Field:
    kind = prop.get("type")
    label = prop.get("title") or label_of(key)
    common = {"label": label, "required": False, "help_text": prop.get("description", "")}
    if isinstance(prop.get("enum"), list) and prop["enum"]:
        return EnumField(prop["enum"], **common)
    if kind == "string":
        input_type = INPUT_TYPES.get(prop.get("format", ""), "text")
        widget = forms.TextInput(attrs={"type": input_type})
        max_length = prop.get("maxLength") if isinstance(prop.get("maxLength"), int) else None
        return forms.CharField(max_length=max_length, widget=widget, strip=True, **common)
    if kind == "integer":
        return forms.IntegerField(**_bounds(prop), **common)
    if kind == "number":
        return NumberField(**_bounds(prop), **common)
    if kind == "boolean":
        return forms.BooleanField(**common)
    if kind == "array":
        items = prop.get("items") if isinstance(prop.get("items"), dict) else {}
        if isinstance(items.get("enum"), list) and all(isinstance(v, str) for v in items["enum"]):
            return forms.MultipleChoiceField(
                choices=[(v, v) for v in items["enum"]],
                widget=forms.CheckboxSelectMultiple,
                **common,
            )
        if items.get("type", "string") == "string" and "enum" not in items:
            common["help_text"] = common["help_text"] or "Separate values with commas."
            return CommaListField(**common)
    # Nested objects and anything else: a JSON box for this key only.
    field = PrettyJSONField(
        widget=forms.Textarea(attrs={"rows": 3, "class": "font-monospace"}), **common
    )
    field.help_text = field.help_text or "JSON value."
    return field


def build_fields(schema: Any) -> dict[str, forms.Field]:
    """Form fields (named PREFIX + key) for each top-level property of `schema`."""
    required = set(schema.get("required", [])) if isinstance(schema, dict) else set()
    return {
        PREFIX + key: field_for(key, prop, required=key in required)
        for key, prop in ordered_properties(schema)
    }


def is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


_PATH = re.compile(r"^([^:/\s]+)(?:/[^:]*)?:\s*(.*)$", re.S)
_REQUIRED = re.compile(r"^'([^']+)' is a required property$")


def attribute_error_field(message: str, names: set[str]) -> tuple[str | None, str]:
    """(form field, message) for one message of `validate_attributes`, or (None, message)
    when it concerns no single rendered field. Understands "key: …", "key/sub: …" and
    "'key' is a required property"."""
    text = str(message)
    match = _REQUIRED.match(text)
    if match and PREFIX + match.group(1) in names:
        return PREFIX + match.group(1), text
    match = _PATH.match(text)
    if match and PREFIX + match.group(1) in names:
        return PREFIX + match.group(1), match.group(2) or text
    return None, text
