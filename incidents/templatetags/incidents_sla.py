"""SLA time left in templates: `{% load incidents_sla %}`, then

{{ incident|resolve_left }}     "2 h 15 min", "overdue 35 min", "paused 1 h 5 min", ""
{{ incident|response_left }}    the same for the response target
{{ incident|sla_state }}        "breached", "warning" (under a quarter left), "paused", "ok" or ""
{{ seconds|duration }}          "1 d 2 h", "15 min"
"""

from __future__ import annotations

from django import template
from django.utils import timezone

from ..choices import SlaTarget
from ..sla_services import remaining_seconds

register = template.Library()


@register.filter
def duration(seconds: int | float | None) -> str:
    """A duration in days, hours and minutes (absolute value; blank for None)."""
    if seconds is None:
        return ""
    minutes = int(abs(seconds)) // 60
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"


def _left(incident, target: str) -> str:
    seconds = remaining_seconds(incident, target, now=timezone.now())
    if seconds is None:
        return ""
    if seconds < 0:
        return f"overdue {duration(seconds)}"
    if incident.on_hold_since is not None:
        return f"paused, {duration(seconds)} left"
    return duration(seconds)


@register.filter
def resolve_left(incident) -> str:
    """Time left to resolve the incident, as text."""
    return _left(incident, SlaTarget.RESOLUTION)


@register.filter
def response_left(incident) -> str:
    """Time left to respond to the incident, as text."""
    return _left(incident, SlaTarget.RESPONSE)


@register.filter
def sla_state(incident) -> str:
    """A word for styling the resolution SLA of a row: breached, warning, paused, ok, or ""."""
    seconds = remaining_seconds(incident, SlaTarget.RESOLUTION, now=timezone.now())
    if seconds is None:
        return "breached" if incident.sla_breached else ""
    if incident.sla_breached or seconds < 0:
        return "breached"
    if incident.on_hold_since is not None:
        return "paused"
    target = incident.resolve_target_min
    if target and seconds < target * 60 / 4:
        return "warning"
    return "ok"
