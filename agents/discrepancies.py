"""Opening discrepancies, once per (CI, kind, key) while open, optionally raising an incident;
the moves of their status (DISCREPANCY_TRANSITIONS), one at a time or many at once."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import IntegrityError, transaction
from django.utils import timezone

from cmdb.choices import ChangeSource
from cmdb.history import ChangeContext
from cmdb.models import ConfigurationItem
from itsm.exceptions import ApplicationError

from .choices import DISCREPANCY_TRANSITIONS, DiscrepancyKind, DiscrepancyStatus
from .models import Discrepancy, InventoryReport

#: Incident severity per discrepancy kind, when the policy raises incidents.
INCIDENT_SEVERITY = {
    DiscrepancyKind.UNAPPROVED_SOFTWARE: "moderate",
    DiscrepancyKind.DISPOSED_REPORTING: "severe",
    DiscrepancyKind.STALE: "minor",
    DiscrepancyKind.HARDWARE_CHANGED: "moderate",
    DiscrepancyKind.IDENTITY_CONFLICT: "moderate",
    DiscrepancyKind.IDENTITY_HOLD: "severe",
    DiscrepancyKind.RELEASE_MISMATCH: "moderate",
}


def check_move(from_status: str, to_status: str) -> None:
    """Refuse a move the transition table does not allow (ApplicationError, a 400)."""
    if to_status not in DISCREPANCY_TRANSITIONS.get(from_status, frozenset()):
        raise ApplicationError(f"A discrepancy cannot move from {from_status} to {to_status}.")


def discrepancy_move(
    item: Discrepancy, to_status: str, *, actor=None, resolution: str = ""
) -> None:
    """Close one discrepancy (locked by the caller): check the move, save status and who/when."""
    check_move(item.status, to_status)
    item.status, item.resolution = to_status, resolution
    item.resolved_by, item.resolved_at = actor, timezone.now()
    item.save(update_fields=["status", "resolution", "resolved_by", "resolved_at"])


def discrepancy_close_open(
    *, ci: ConfigurationItem, kind: str, status: str, resolution: str
) -> int:
    """Close every open discrepancy of this kind on the CI (by the system: no actor), in one
    UPDATE; only open ones are touched, so every row makes an allowed move. Returns how many."""
    check_move(DiscrepancyStatus.OPEN, status)
    return Discrepancy.objects.filter(ci=ci, kind=kind, status=DiscrepancyStatus.OPEN).update(
        status=status, resolved_at=timezone.now(), resolution=resolution, resolved_by=None
    )


def discrepancy_open_or_refresh(
    *,
    ci: ConfigurationItem,
    kind: str,
    key: str,
    message: str,
    detail: dict,
    raise_incident: bool = False,
    report: InventoryReport | None = None,
) -> tuple[Discrepancy, bool]:
    """Refresh the open discrepancy of this kind and key, or open one; returns (item, opened)."""
    return discrepancy_open_or_refresh_many(
        ci=ci,
        kind=kind,
        found=[(key, message, detail)],
        raise_incident=raise_incident,
        report=report,
    )[0]


def discrepancy_open_or_refresh_many(
    *,
    ci: ConfigurationItem,
    kind: str,
    found: Sequence[tuple[str, str, dict]],
    raise_incident: bool = False,
    report: InventoryReport | None = None,
) -> list[tuple[Discrepancy, bool]]:
    """`discrepancy_open_or_refresh` for several keys of one kind at once, (key, message, detail) each,
    seen in `report`: one query for those already open, one UPDATE for those seen again as
    they were (one each for those whose message or detail changed), one INSERT for the new."""
    now = timezone.now()
    existing = {
        item.key: item
        for item in Discrepancy.objects.filter(
            ci=ci, kind=kind, key__in=[key for key, _, _ in found], status=DiscrepancyStatus.OPEN
        )
    }
    seen_again: list[tuple[Discrepancy, str, dict]] = []
    changed: list[tuple[Discrepancy, str, dict]] = []
    for key, message, detail in found:
        item = existing.get(key)
        if item is None:
            continue
        (seen_again if (item.message, item.detail) == (message, detail) else changed).append(
            (item, message, detail)
        )
    seen = {"last_seen": now, **({"report": report} if report is not None else {})}
    if seen_again:
        Discrepancy.objects.filter(pk__in=[item.pk for item, _, _ in seen_again]).update(**seen)
    for item, message, detail in changed:
        Discrepancy.objects.filter(pk=item.pk).update(message=message, detail=detail, **seen)
        item.message, item.detail = message, detail
    for item, _, _ in seen_again + changed:
        item.last_seen = now
    new = {
        key: Discrepancy(
            ci=ci,
            kind=kind,
            key=key,
            message=message,
            detail=detail,
            last_seen=now,
            report=report,
        )
        for key, message, detail in found
        if key not in existing
    }
    if new:
        try:
            with transaction.atomic():
                Discrepancy.objects.bulk_create(new.values())
        except IntegrityError:  # one was opened meanwhile by a concurrent report
            for key, item in list(new.items()):
                try:
                    with transaction.atomic():
                        item.save(force_insert=True)
                except IntegrityError:
                    existing[key] = Discrepancy.objects.get(
                        ci=ci, kind=kind, key=key, status=DiscrepancyStatus.OPEN
                    )
                    del new[key]
    if raise_incident:
        for item in new.values():
            _raise_incident(item, ci)
    return [(new[key], True) if key in new else (existing[key], False) for key, _, _ in found]


def _raise_incident(item: Discrepancy, ci: ConfigurationItem) -> None:
    from incidents.choices import Source
    from incidents.services import incident_open

    item.incident = incident_open(
        context=ChangeContext(
            actor=None, source=ChangeSource.SYSTEM, source_ref=f"discrepancy:{item.pk}"
        ),
        title=f"CMDB audit: {item.get_kind_display()} on {ci.name}"[:200],
        description=item.message,
        severity=INCIDENT_SEVERITY.get(DiscrepancyKind(item.kind), "moderate"),
        category="CMDB audit",
        cis=[ci],
        source=Source.AUDIT,
    )
    item.save(update_fields=["incident"])
