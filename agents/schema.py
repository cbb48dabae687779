"""The schema of agent reports, and the structural limits checked before it.

`itsm-inventory/1` is validated in full; `glpi-inventory` carries a GLPI agent's own document,
of which we check the envelope (the mapping in agents/inventory copes with the rest). Schemas
are compiled once with fastjsonschema: a 300-package report validates in well under a
millisecond, where an interpreted validator takes several.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import fastjsonschema

from itsm.parsers import find_unstorable, might_hold_unstorable

MAX_DEPTH = 24
MAX_ARRAY_ITEMS = 50_000
MAX_STRING = 65_536
MAX_KEYS = 2_000

STR = {"type": "string", "maxLength": 1024}
NAME = {"type": "string", "maxLength": 255}
OPT_STR = {"type": ["string", "null"], "maxLength": 1024}
OPT_INT = {"type": ["integer", "null"], "minimum": 0}

ITSM_INVENTORY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["format", "collected_at", "device"],
    "properties": {
        "format": {"const": "itsm-inventory/1"},
        "collected_at": {"type": "string", "format": "date-time"},
        "agent": {"type": "object"},
        "device": {
            "type": "object",
            "required": ["hostname"],
            "properties": {
                "hostname": {"type": "string", "minLength": 1, "maxLength": 255},
                "uuid": OPT_STR,
                "serial_number": OPT_STR,
                "manufacturer": OPT_STR,
                "model": OPT_STR,
                "os": {
                    "type": "object",
                    "properties": {"name": OPT_STR, "version": OPT_STR, "kernel": OPT_STR},
                },
                "cpu": {"type": "object"},
                "memory_mb": OPT_INT,
            },
        },
        "network": {
            "type": "array",
            "maxItems": 512,
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": NAME,
                    "mac": OPT_STR,
                    "ipv4": {"type": "array", "maxItems": 256, "items": STR},
                    "ipv6": {"type": "array", "maxItems": 256, "items": STR},
                },
            },
        },
        "storage": {
            "type": "array",
            "maxItems": 1024,
            "items": {
                "type": "object",
                "required": ["mount"],
                "properties": {
                    "mount": NAME,
                    "device": OPT_STR,
                    "filesystem": OPT_STR,
                    "size_mb": {"type": ["number", "null"], "minimum": 0},
                    "used_mb": {"type": ["number", "null"], "minimum": 0},
                },
            },
        },
        "software": {
            "type": "array",
            "maxItems": 20_000,
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": NAME,
                    "version": OPT_STR,
                    "vendor": OPT_STR,
                    "source": OPT_STR,
                },
            },
        },
        "security": {"type": "object"},
        "events": {
            "type": "array",
            "maxItems": 1000,
            "items": {
                "type": "object",
                "required": ["kind"],
                "properties": {
                    "at": OPT_STR,
                    "kind": {"type": "string", "maxLength": 50},
                    "detail": OPT_STR,
                },
            },
        },
    },
}

GLPI_ENVELOPE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["format"],
    "properties": {
        "format": {"const": "glpi-inventory"},
        "deviceid": {"type": "string", "maxLength": 255},
        "partial": {"type": "boolean"},
        "content": {"type": "object"},
        "inventory": {
            "type": "object",
            "required": ["content"],
            "properties": {"content": {"type": "object"}, "deviceid": {"type": "string"}},
        },
    },
    "oneOf": [{"required": ["content"]}, {"required": ["inventory"]}],
}

#: A legacy FusionInventory / OCS XML inventory carried as a string in a JSON envelope (the
#: endpoint takes JSON only): `itsm-agent send inventory.xml` makes one.
FUSION_XML_ENVELOPE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["format", "xml"],
    "properties": {
        "format": {"const": "fusion-xml"},
        "collected_at": {"type": "string", "format": "date-time"},
        "agent": {"type": "object"},
        "xml": {"type": "string", "minLength": 1},
    },
}

_SCHEMAS = {
    "itsm-inventory/1": ITSM_INVENTORY_SCHEMA,
    "glpi-inventory": GLPI_ENVELOPE_SCHEMA,
    "fusion-xml": FUSION_XML_ENVELOPE_SCHEMA,
}
_validators = {fmt: fastjsonschema.compile(schema) for fmt, schema in _SCHEMAS.items()}
SUPPORTED_FORMATS = tuple(_SCHEMAS)

#: Top-level keys that change with every report (the time, the agent's own details): left out
#: of the content digest, so checked on their own when the rest is known to be valid.
VOLATILE_KEYS = ("collected_at", "agent")


def _volatile_schema(schema: dict[str, Any]) -> dict[str, Any]:
    properties = schema.get("properties", {})
    return {
        "type": "object",
        "required": [k for k in schema.get("required", []) if k in VOLATILE_KEYS],
        "properties": {k: properties[k] for k in VOLATILE_KEYS if k in properties},
    }


_volatile_validators = {
    fmt: fastjsonschema.compile(_volatile_schema(schema)) for fmt, schema in _SCHEMAS.items()
}


class ReportInvalid(ValueError):
    """The body is not a valid report (answered 400)."""

    def __init__(self, message: str, *, reason: str = "schema"):
        super().__init__(message)
        self.reason = reason


def parse_json(body: bytes) -> Any:
    """Decode a JSON body, refusing anything but UTF-8 JSON and structures past our limits."""
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ReportInvalid(f"The body is not valid JSON: {exc}", reason="invalid_json") from exc
    if might_hold_unstorable(body):
        where = find_unstorable(document)
        if where is not None:
            raise ReportInvalid(f"{where}: NUL characters and lone surrogates are not allowed")
    if type(document) is dict and document.get("format") == "fusion-xml":
        # The XML text is one long string, bounded by the body size; the XML parser has its
        # own limits (no DTDs, no entities).
        check_structure({k: v for k, v in document.items() if k != "xml"})
    elif type(document) is dict or type(document) is list:
        check_structure(document)
    elif type(document) is str and len(document) > MAX_STRING:
        raise ReportInvalid(f"A string is longer than {MAX_STRING} characters")
    return document


def check_structure(document: Any) -> None:
    """Iteratively bound nesting depth, array lengths, object sizes and string lengths.

    Written for speed (it runs on every report before the schema): containers only are
    pushed, types are compared with `is`.
    """
    stack: list[tuple[Any, int]] = [(document, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        value, depth = pop()
        if depth > MAX_DEPTH:
            raise ReportInvalid(f"JSON nested deeper than {MAX_DEPTH} levels")
        if type(value) is dict:
            if len(value) > MAX_KEYS:
                raise ReportInvalid(f"An object has more than {MAX_KEYS} keys")
            children = value.values()
        elif len(value) > MAX_ARRAY_ITEMS:
            raise ReportInvalid(f"An array has more than {MAX_ARRAY_ITEMS} items")
        else:
            children = value
        for child in children:
            kind = type(child)
            if kind is dict or kind is list:
                push((child, depth + 1))
            elif kind is str and len(child) > MAX_STRING:
                raise ReportInvalid(f"A string is longer than {MAX_STRING} characters")


def validate_report(document: Any) -> str:
    """Validate a parsed report against the schema of its format; return the format."""
    if not isinstance(document, dict):
        raise ReportInvalid("A report must be a JSON object")
    fmt = document.get("format")
    validator = _validators.get(fmt) if isinstance(fmt, str) else None
    if validator is None:
        raise ReportInvalid(f"Unknown format {fmt!r}; supported: {', '.join(SUPPORTED_FORMATS)}")
    try:
        validator(document)
    except fastjsonschema.JsonSchemaException as exc:
        raise ReportInvalid(f"The report fails the {fmt} schema: {exc.message}") from exc
    if fmt == "fusion-xml":
        _check_xml(document["xml"])
    _check_dates(document, fmt)
    return fmt


def _check_date(value: Any, where: str) -> None:
    """A date-time the database can store, or ReportInvalid: `2026-02-30` passes the schema's
    pattern but no calendar, and `+20:00` no PostgreSQL (both failed later, as 500s)."""
    from django.core.exceptions import ValidationError
    from django.utils.dateparse import parse_datetime

    from itsm.datetimes import to_storable

    if value is None or value == "":
        return
    try:
        parsed = parse_datetime(value) if isinstance(value, str) else None
        if parsed is None:
            raise ValueError("expected an ISO 8601 date-time")
        to_storable(parsed)
    except (ValueError, ValidationError) as exc:
        message = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        raise ReportInvalid(f"{where}: {value!r} is not a valid date-time ({message})") from exc


def _check_dates(document: dict[str, Any], fmt: str) -> None:
    """Check the date-times the server stores: `collected_at` and, natively, events' `at`."""
    _check_date(document.get("collected_at"), "collected_at")
    if fmt == "itsm-inventory/1":
        for index, event in enumerate(document.get("events") or ()):
            _check_date(event.get("at"), f"events[{index}].at")


def _check_xml(xml: str) -> None:
    """Refuse XML that is not a well-formed, safe <REQUEST> (400 now, not a rejection later)."""
    from agents.inventory.fusion_xml import parse
    from agents.inventory.normalized import InventoryFormatError

    try:
        parse(xml)
    except InventoryFormatError as exc:
        raise ReportInvalid(str(exc)) from exc


def validate_volatile_parts(document: dict[str, Any], fmt: str) -> None:
    """Validate only the keys outside the content digest, for a report whose content is byte
    for byte (as canonical JSON) the content of a report that passed `validate_report`."""
    try:
        _volatile_validators[fmt](document)
    except fastjsonschema.JsonSchemaException as exc:
        raise ReportInvalid(f"The report fails the {fmt} schema: {exc.message}") from exc
    _check_date(document.get("collected_at"), "collected_at")


def content_digest(document: dict) -> str:
    """SHA-256 of a report body without its timestamps: equal digests, nothing to apply."""
    stable = {k: v for k, v in document.items() if k not in VOLATILE_KEYS}
    return hashlib.sha256(
        json.dumps(stable, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
