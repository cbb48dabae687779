"""The API's JSON parser: refuses what the database cannot store before any view sees it.

PostgreSQL refuses a NUL character in text and jsonb, and no UTF-8 encoder takes a lone
surrogate (`"\\ud800"`): Python's json module accepts both, so a body carrying one got as far
as the database and answered 500. Deep nesting exhausted the stack the same way. This parser
answers 400 naming the field, for every endpoint at once (it is the default parser), and
refuses bodies above `API_MAX_BODY_BYTES` with a JSON 413.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.conf import settings
from rest_framework import exceptions
from rest_framework.parsers import JSONParser

#: A NUL or a surrogate code point. Python's json decodes a valid surrogate pair into one
#: character, so any surrogate left in a decoded string is a lone one.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
#: The JSON escapes that can produce one: `\u0000`, a high surrogate not followed by a low
#: one, a low surrogate not preceded by a high one (raw NUL bytes and raw surrogates are
#: invalid JSON or invalid UTF-8 already). A body without them (emoji escaped as pairs
#: included) needs no string-by-string check; a false alarm only costs the slower check.
_UNSTORABLE_ESCAPE = re.compile(
    rb"\\u(?:0000"
    rb"|[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])"
    rb"|(?<![dD][89abAB][0-9a-fA-F]{2}\\u)[dD][c-fC-F][0-9a-fA-F]{2})"
)


class PayloadTooLarge(exceptions.APIException):
    """The body is larger than the configured limit (answered 413, JSON)."""

    status_code = 413
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


def describe(path: tuple) -> str:
    """`("attributes", "ports", 2)` → `attributes.ports[2]`; the root is `non_field_errors`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "non_field_errors"


def has_unstorable(text: str) -> bool:
    """True when `text` holds a NUL character or a lone surrogate."""
    return UNSTORABLE.search(text) is not None


def might_hold_unstorable(raw: bytes) -> bool:
    """True when a JSON body has an escape that may decode to a NUL or a lone surrogate (cheap;
    when False, no decoded string holds one)."""
    return _UNSTORABLE_ESCAPE.search(raw) is not None


def find_unstorable(document: Any) -> str | None:
    """Where (`describe` path) the first NUL or lone surrogate of a decoded document is, or None."""
    stack: list[tuple[Any, tuple]] = [(document, ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str):
            if has_unstorable(value):
                return describe(path)
            continue
        if not isinstance(value, dict | list):
            continue
        items: Any = value.items() if isinstance(value, dict) else enumerate(value)
        for key, child in items:
            if isinstance(key, str) and has_unstorable(key):
                return describe(path)
            if isinstance(child, dict | list | str):
                stack.append((child, (*path, key)))
    return None


def _deeper_than(document: Any, max_depth: int) -> bool:
    """True when containers nest deeper than `max_depth` (fast: containers only, no paths)."""
    if type(document) is not dict and type(document) is not list:
        return False
    stack: list[tuple[Any, int]] = [(document, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        value, depth = pop()
        if depth > max_depth:
            return True
        for child in value.values() if type(value) is dict else value:
            kind = type(child)
            if kind is dict or kind is list:
                push((child, depth + 1))
    return False


def check_document(document: Any, *, max_depth: int, check_strings: bool = True) -> None:
    """Refuse nesting deeper than `max_depth` and, when `check_strings`, NUL characters and
    lone surrogates in keys and strings, with a ValidationError naming where. Iterative."""
    stack: list[tuple[Any, tuple, int]] = [(document, (), 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, str):
            if check_strings and has_unstorable(value):
                raise exceptions.ValidationError(
                    {describe(path): ["NUL characters and lone surrogates are not allowed."]}
                )
            continue
        if not isinstance(value, dict | list):
            continue
        if depth > max_depth:
            raise exceptions.ValidationError(
                {describe(path): [f"JSON nested deeper than {max_depth} levels."]}
            )
        items: Any = value.items() if isinstance(value, dict) else enumerate(value)
        for key, child in items:
            if check_strings and isinstance(key, str) and has_unstorable(key):
                raise exceptions.ValidationError(
                    {
                        describe(path): [
                            "NUL characters and lone surrogates are not allowed in keys."
                        ]
                    }
                )
            if isinstance(child, dict | list) or (check_strings and isinstance(child, str)):
                stack.append((child, (*path, key), depth + 1))


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")  # PostgreSQL's jsonb has no NaN either


class SafeJSONParser(JSONParser):
    """JSONParser with a body size limit, a depth limit and no NUL or lone surrogates."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.API_MAX_BODY_BYTES
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            data = json.loads(raw.decode(encoding), parse_constant=_refuse_constant)
        except RecursionError as exc:
            raise exceptions.ParseError("JSON parse error - nested too deeply.") from exc
        except ValueError as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from exc
        max_depth = settings.API_JSON_MAX_DEPTH
        suspicious = might_hold_unstorable(raw)
        if suspicious or _deeper_than(data, max_depth):
            check_document(data, max_depth=max_depth, check_strings=suspicious)
        return data
