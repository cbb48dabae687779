"""Writes of incident management. For now: raising an incident (used by the CMDB audit)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from cmdb.history import ChangeContext
from cmdb.models import ConfigurationItem
from cmdb.services import require_permission

from .choices import PRIORITY_MATRIX, Level, Severity, Source
from .models import Incident


def next_number() -> str:
    """INC-000001, INC-000002… (unique constraint guards races; callers retry on conflict)."""
    last = Incident.objects.order_by("-id").values_list("id", flat=True).first() or 0
    return f"INC-{last + 1:06d}"


@transaction.atomic
def incident_open(
    *,
    context: ChangeContext,
    title: str,
    description: str = "",
    severity: str = Severity.MODERATE,
    impact: str = Level.MEDIUM,
    urgency: str = Level.MEDIUM,
    category: str = "",
    cis: Iterable[ConfigurationItem] = (),
    source: str = Source.SERVICE_DESK,
) -> Incident:
    """Log a new incident with its priority derived from impact and urgency."""
    require_permission(context, "incidents.add_incident")
    incident = Incident.objects.create(
        number=next_number(),
        title=title[:200],
        description=description,
        severity=severity,
        impact=impact,
        urgency=urgency,
        priority=PRIORITY_MATRIX[(Level(impact), Level(urgency))],
        category=category[:100],
        source=source,
        caller=context.actor,
    )
    incident.cis.set(list(cis))
    return incident
