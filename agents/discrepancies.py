"""Opening discrepancies, once per (CI, kind, key) while open, optionally raising an incident."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from cmdb.choices import ChangeSource
from cmdb.history import ChangeContext
from cmdb.models import ConfigurationItem

from .choices import DiscrepancyKind, DiscrepancyStatus
from .models import Discrepancy

#: Incident severity per discrepancy kind, when the policy raises incidents.
INCIDENT_SEVERITY = {
    DiscrepancyKind.UNAPPROVED_SOFTWARE: "moderate",
    DiscrepancyKind.DISPOSED_REPORTING: "severe",
    DiscrepancyKind.STALE: "minor",
    DiscrepancyKind.HARDWARE_CHANGED: "moderate",
    DiscrepancyKind.IDENTITY_CONFLICT: "moderate",
}


def open_or_refresh(
    *,
    ci: ConfigurationItem,
    kind: str,
    key: str,
    message: str,
    detail: dict,
    raise_incident: bool = False,
) -> tuple[Discrepancy, bool]:
    """Refresh the open discrepancy of this kind and key, or open one; returns (item, opened)."""
    now = timezone.now()
    existing = Discrepancy.objects.filter(
        ci=ci, kind=kind, key=key, status=DiscrepancyStatus.OPEN
    ).first()
    if existing is not None:
        Discrepancy.objects.filter(pk=existing.pk).update(
            last_seen=now, detail=detail, message=message
        )
        return existing, False
    try:
        with transaction.atomic():
            item = Discrepancy.objects.create(
                ci=ci, kind=kind, key=key, message=message, detail=detail, last_seen=now
            )
    except IntegrityError:  # opened meanwhile by a concurrent report
        return Discrepancy.objects.get(
            ci=ci, kind=kind, key=key, status=DiscrepancyStatus.OPEN
        ), False
    if raise_incident:
        from incidents.choices import Source
        from incidents.services import open_incident

        item.incident = open_incident(
            context=ChangeContext(
                actor=None, source=ChangeSource.SYSTEM, source_ref=f"discrepancy:{item.pk}"
            ),
            title=f"CMDB audit: {item.get_kind_display()} on {ci.name}"[:200],
            description=message,
            severity=INCIDENT_SEVERITY.get(kind, "moderate"),
            category="CMDB audit",
            cis=[ci],
            source=Source.AUDIT,
        )
        item.save(update_fields=["incident"])
    return item, True
