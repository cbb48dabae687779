"""Normalisation of machine identifiers, so the same machine is recognised however it is spelled."""

from __future__ import annotations

import re
import uuid as uuid_module

from django.core.exceptions import ValidationError

_UUID_CHARS = re.compile(r"[^0-9a-zA-Z-]")
_UUID_CANONICAL = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_HOST_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", re.IGNORECASE)
HOSTNAME_MAX = 253


def normalize_uuid(value: str | None) -> str:
    """Lower case, hyphenated, no braces or spaces: `{4C4C4544-…}`, `4C4C4544…` (32 digits)
    and `4c4c4544-…` compare equal. A value that is no UUID is returned cleaned but whole,
    for `validate_uuid` to refuse (never cut into something that looks valid)."""
    if not value:
        return ""
    cleaned = _UUID_CHARS.sub("", str(value)).lower()
    try:
        return str(uuid_module.UUID(cleaned))
    except ValueError:
        return cleaned


def is_valid_uuid(value: str) -> bool:
    """True for a canonical UUID (8-4-4-4-12 hexadecimal digits, lower case)."""
    return bool(_UUID_CANONICAL.match(value))


def validate_uuid(value: str) -> None:
    """A UUID field holds a canonical UUID (8-4-4-4-12 hexadecimal digits, lower case)."""
    if value and not is_valid_uuid(value):
        raise ValidationError("Not a valid UUID (e.g. 4c4c4544-0042-3510-8052-b4c04f4b4d32).")


def is_valid_hostname(value: str) -> bool:
    """RFC 1123 host name: dot-separated labels of letters, digits and hyphens, none starting
    or ending with a hyphen, each at most 63 characters, at most 253 in all."""
    if not value or len(value) > HOSTNAME_MAX:
        return False
    return all(_HOST_LABEL.match(label) for label in value.rstrip(".").split("."))


def validate_hostname(value: str) -> None:
    """Refuse a host name that is not RFC 1123 (spaces, underscores, markup, long labels…)."""
    if value and not is_valid_hostname(value):
        raise ValidationError(
            "Not a valid host name: use letters, digits and hyphens in dot-separated labels "
            "(at most 63 characters each, 253 in all), no hyphen at either end of a label."
        )


def normalize_serial(value: str | None) -> str:
    """Serial numbers are compared without surrounding whitespace, case kept."""
    return (value or "").strip()[:100]


def normalize_hostname(value: str | None) -> str:
    """Host names are case-insensitive (RFC 4343) and may carry a trailing dot."""
    return (value or "").strip().rstrip(".").lower()


def normalize_mac(value: str | None) -> str:
    """`00-1A-2B-3C-4D-5E`, `001a.2b3c.4d5e` and `00:1a:2b:3c:4d:5e` become the last form."""
    digits = re.sub(r"[^0-9a-fA-F]", "", value or "").lower()
    if len(digits) != 12:
        return ""
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))
