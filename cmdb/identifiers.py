"""Normalisation of machine identifiers, so the same machine is recognised however it is spelled."""

from __future__ import annotations

import re

_UUID_CHARS = re.compile(r"[^0-9a-zA-Z-]")


def normalize_uuid(value: str | None) -> str:
    """Lower case, no braces or spaces: `{4C4C4544-…}` and `4c4c4544-…` compare equal."""
    if not value:
        return ""
    return _UUID_CHARS.sub("", str(value)).lower()[:36]


def normalize_serial(value: str | None) -> str:
    """Serial numbers are compared without surrounding whitespace, case kept."""
    return (value or "").strip()[:100]


def normalize_hostname(value: str | None) -> str:
    """Host names are case-insensitive (RFC 4343) and may carry a trailing dot."""
    return (value or "").strip().rstrip(".").lower()[:255]


def normalize_mac(value: str | None) -> str:
    """`00-1A-2B-3C-4D-5E`, `001a.2b3c.4d5e` and `00:1a:2b:3c:4d:5e` become the last form."""
    digits = re.sub(r"[^0-9a-fA-F]", "", value or "").lower()
    if len(digits) != 12:
        return ""
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))
