"""Template helpers of the service-desk pages: the SLA time-left badge, status and priority."""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils import timezone
from django.utils.html import format_html

from ..choices import OPEN_STATUSES, IncidentStatus

register = template.Library()

#: Share of the resolution target used from which the badge turns amber.
AMBER_AT = 0.75


def _span(delta: dt.timedelta) -> str:
    seconds = int(abs(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m"


def sla_state(incident, now: dt.datetime | None = None) -> tuple[str, str]:
    """(colour, text) of the SLA badge: green, amber (≥ 75% of the target used), red
    (breached), grey (paused on hold, or no SLA / not open)."""
    now = now or timezone.now()
    due = incident.resolve_due
    if incident.status not in OPEN_STATUSES:
        return "secondary", "done"
    if incident.sla_breached or (due is not None and due <= now and not incident.on_hold_since):
        late = f" {_span(now - due)} late" if due is not None and due <= now else ""
        return "danger", f"breached{late}"
    if due is None:
        return "secondary", "no SLA"
    if incident.status == IncidentStatus.ON_HOLD or incident.on_hold_since:
        return "secondary", f"paused · {_span(due - now)} left"
    start = incident.sla_started_at or incident.created
    total = (due - start).total_seconds() if start else 0
    used = (now - start).total_seconds() / total if total > 0 else 1
    colour = "warning" if used >= AMBER_AT else "success"
    return colour, f"{_span(due - now)} left"


@register.simple_tag
def sla_badge(incident):
    """The time left before the resolution is due, as a coloured badge."""
    colour, text = sla_state(incident)
    text_class = " text-dark" if colour == "warning" else ""
    return format_html(
        '<span class="badge text-bg-{}{} sla-badge" data-sla="{}" title="Resolution due {}">'
        "{}</span>",
        colour,
        text_class,
        colour,
        timezone.localtime(incident.resolve_due).strftime("%Y-%m-%d %H:%M")
        if incident.resolve_due
        else "—",
        text,
    )


PRIORITY_COLOURS = {1: "danger", 2: "warning", 3: "primary", 4: "info", 5: "secondary"}


@register.simple_tag
def priority_badge(priority: int):
    colour = PRIORITY_COLOURS.get(priority, "secondary")
    text_class = " text-dark" if colour in ("warning", "info") else ""
    return format_html('<span class="badge text-bg-{}{}">P{}</span>', colour, text_class, priority)


STATUS_COLOURS = {
    "new": "info",
    "assigned": "primary",
    "in_progress": "primary",
    "on_hold": "secondary",
    "resolved": "success",
    "closed": "dark",
    "reopened": "warning",
}


@register.simple_tag
def status_badge(status: str):
    colour = STATUS_COLOURS.get(status, "secondary")
    label = IncidentStatus(status).label if status in IncidentStatus.values else status
    text_class = " text-dark" if colour in ("warning", "info") else ""
    return format_html(
        '<span class="badge text-bg-{}{}" data-status="{}">{}</span>',
        colour,
        text_class,
        status,
        label,
    )


@register.filter
def change_value(value):
    """An audit change value as text: {"old", "new"}, {"added", "removed"} or a plain value."""
    if isinstance(value, dict):
        if "added" in value or "removed" in value:
            parts = []
            if value.get("added"):
                parts.append("+" + ", ".join(str(v) for v in value["added"]))
            if value.get("removed"):
                parts.append("-" + ", ".join(str(v) for v in value["removed"]))
            return " ".join(parts)
        old, new = value.get("old"), value.get("new")
        return f"{'—' if old in (None, '') else old} → {'—' if new in (None, '') else new}"
    return str(value)
