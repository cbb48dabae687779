"""Small display helpers of the change-management pages."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()

STATUS_CLASSES = {
    "draft": "secondary",
    "submitted": "primary",
    "info_requested": "warning",
    "approved": "success",
    "rejected": "danger",
    "scheduled": "info",
    "implemented": "dark",
    "reviewed": "dark",
    "closed": "light",
    "cancelled": "light",
}
RISK_CLASSES = {"low": "success", "medium": "warning", "high": "danger", "very_high": "danger"}


@register.filter
def status_class(status: str) -> str:
    """The Bootstrap colour of an RFC status badge."""
    return STATUS_CLASSES.get(status, "secondary")


@register.filter
def risk_class(level: str) -> str:
    """The Bootstrap colour of a risk level badge."""
    return RISK_CLASSES.get(level, "secondary")


def _value(value: Any) -> str:
    if isinstance(value, dict) and "new" in value:
        return f"{value.get('old')!s} → {value.get('new')!s}"
    if isinstance(value, dict) and "added" in value:
        parts = []
        if value.get("added"):
            parts.append(f"+{value['added']}")
        if value.get("removed"):
            parts.append(f"-{value['removed']}")
        return " ".join(parts) or "unchanged"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_value(v)}" for k, v in value.items())
    return str(value)


@register.filter
def log_lines(changes: Any) -> list[str]:
    """An audit entry's `changes` as readable lines ("status: draft → submitted")."""
    if not isinstance(changes, dict):
        return [str(changes)] if changes else []
    return [f"{name.replace('_', ' ')}: {_value(value)}" for name, value in changes.items()]


@register.filter
def percent(value: float | None) -> str:
    """0.125 → "12.5 %"; None → "—"."""
    return "—" if value is None else f"{value * 100:.1f} %"
