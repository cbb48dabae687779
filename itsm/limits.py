"""Size and shape limits on what clients may store, read from settings (see itsm/settings.py).

Every limit is checked before anything is written, and a breach is a field error (400), so a
9.9 MB attribute string or 200,000 attribute keys never reach the database or a list page.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

from .parsers import has_unstorable

UNSTORABLE = "NUL characters and lone surrogates are not allowed."
UNSTORABLE_KEY = "NUL characters and lone surrogates are not allowed in keys."


def limit(name: str) -> int:
    """The configured value of a limit (`CMDB_ATTRIBUTE_MAX_KEYS`, …)."""
    return int(getattr(settings, name))


def check_attribute_limits(attributes: Any, *, field: str = "attributes") -> None:
    """Refuse attributes past the configured limits with a field error naming the limit, and
    strings the database cannot store (NUL characters, lone surrogates) whatever the way in
    (API, the HTML form's JSON text, CSV import).

    Limits: `CMDB_ATTRIBUTE_MAX_STRING` characters per string (keys and values),
    `CMDB_ATTRIBUTE_MAX_KEYS` keys in all (nested objects included), `CMDB_ATTRIBUTE_MAX_DEPTH`
    levels of nesting and `CMDB_ATTRIBUTE_MAX_BYTES` bytes of JSON in all. Iterative: a
    deeply nested document cannot exhaust the stack.
    """
    if not isinstance(attributes, dict | list):
        return
    max_string = limit("CMDB_ATTRIBUTE_MAX_STRING")
    max_keys = limit("CMDB_ATTRIBUTE_MAX_KEYS")
    max_depth = limit("CMDB_ATTRIBUTE_MAX_DEPTH")
    keys = 0
    stack: list[tuple[Any, int]] = [(attributes, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > max_depth:
            raise ValidationError({field: [f"Nested deeper than {max_depth} levels."]})
        if isinstance(value, dict):
            keys += len(value)
            if keys > max_keys:
                raise ValidationError({field: [f"More than {max_keys} keys in all."]})
            items: Any = value.items()
        else:
            items = enumerate(value)
        for key, child in items:
            if isinstance(key, str):
                if len(key) > max_string:
                    raise ValidationError(
                        {field: [f"A key is longer than {max_string} characters."]}
                    )
                if has_unstorable(key):
                    raise ValidationError({field: [UNSTORABLE_KEY]})
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
            elif isinstance(child, str):
                if len(child) > max_string:
                    raise ValidationError({field: [f"{key}: longer than {max_string} characters."]})
                if has_unstorable(child):
                    raise ValidationError({field: [f"{key}: {UNSTORABLE}"]})
    max_bytes = limit("CMDB_ATTRIBUTE_MAX_BYTES")
    size = len(json.dumps(attributes, ensure_ascii=False, separators=(",", ":")).encode())
    if size > max_bytes:
        raise ValidationError({field: [f"{size} bytes of JSON; at most {max_bytes} bytes in all."]})


def check_list_length(items: Any, *, setting: str, field: str = "non_field_errors") -> None:
    """Refuse a list longer than the limit named by `setting` (e.g. `CMDB_SOFTWARE_MAX_ITEMS`)."""
    maximum = limit(setting)
    if isinstance(items, list | tuple) and len(items) > maximum:
        raise ValidationError({field: [f"At most {maximum} items; got {len(items)}."]})
