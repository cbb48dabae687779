"""Template filters of CMDB pages: values as people read them."""

from __future__ import annotations

from typing import Any

from django import template

from ..history_display import plain

register = template.Library()


@register.filter(name="plain")
def plain_value(value: Any) -> str:
    """A JSON value as text: nothing as "—", booleans as yes/no, nested values as
    `key: value` pairs (never a Python dict)."""
    return plain(value)
