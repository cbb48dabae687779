"""Reads of the agents app: the CMDB health view, a CI's latest inventory."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef
from django.utils import timezone

from cmdb.models import CIType, ConfigurationItem

from .choices import DiscrepancyStatus
from .models import Agent, CIEvent, Discrepancy, InventoryReport


@dataclass
class HealthScore:
    """Scores in percent: completeness (expected attributes and owner filled), correctness (no
    open discrepancy), freshness (managed hardware that reported within its policy)."""

    label: str
    slug: str
    cis: int
    completeness: float
    correctness: float
    freshness: float | None

    @property
    def overall(self) -> float:
        parts = [self.completeness, self.correctness] + (
            [self.freshness] if self.freshness is not None else []
        )
        return round(sum(parts) / len(parts), 1)


def _expected(ci_type: CIType) -> list[str]:
    schema = ci_type.attribute_schema if isinstance(ci_type.attribute_schema, dict) else {}
    return list(dict.fromkeys([*schema.get("required", []), *schema.get("x-expected", [])]))


def cmdb_health(*, now: dt.datetime | None = None) -> tuple[list[HealthScore], HealthScore]:
    """Health per CI type and overall, excluding disposed CIs. One pass over the CIs."""
    now = now or timezone.now()
    types = {t.pk: t for t in CIType.objects.all()}
    open_discrepancy = Discrepancy.objects.filter(ci=OuterRef("pk"), status=DiscrepancyStatus.OPEN)
    rows = (
        ConfigurationItem.objects.exclude(status="disposed")
        .annotate(has_open=Exists(open_discrepancy))
        .values_list("pk", "ci_type_id", "owner_id", "attributes", "managed", "has_open")
    )
    fresh_limits = _fresh_cis(now)
    totals: dict[int, dict[str, float]] = {}
    for pk, type_id, owner_id, attributes, managed, has_open in rows.iterator(chunk_size=2000):
        expected = _expected(types[type_id])
        filled = sum(1 for key in expected if (attributes or {}).get(key) not in (None, "", [], {}))
        completeness = (filled + (1 if owner_id else 0)) / (len(expected) + 1)
        bucket = totals.setdefault(
            type_id, {"n": 0, "complete": 0.0, "correct": 0, "hw": 0, "fresh": 0}
        )
        bucket["n"] += 1
        bucket["complete"] += completeness
        bucket["correct"] += 0 if has_open else 1
        if types[type_id].is_hardware and managed:
            bucket["hw"] += 1
            bucket["fresh"] += 1 if pk in fresh_limits else 0
    scores = [
        HealthScore(
            label=types[type_id].name,
            slug=types[type_id].slug,
            cis=int(b["n"]),
            completeness=round(100 * b["complete"] / b["n"], 1),
            correctness=round(100 * b["correct"] / b["n"], 1),
            freshness=round(100 * b["fresh"] / b["hw"], 1) if b["hw"] else None,
        )
        for type_id, b in sorted(totals.items(), key=lambda item: types[item[0]].name)
    ]
    n = sum(b["n"] for b in totals.values())
    hw = sum(b["hw"] for b in totals.values())
    overall = HealthScore(
        label="All CIs",
        slug="",
        cis=int(n),
        completeness=round(100 * sum(b["complete"] for b in totals.values()) / n, 1)
        if n
        else 100.0,
        correctness=round(100 * sum(b["correct"] for b in totals.values()) / n, 1) if n else 100.0,
        freshness=round(100 * sum(b["fresh"] for b in totals.values()) / hw, 1) if hw else None,
    )
    return scores, overall


def _fresh_cis(now: dt.datetime) -> set[int]:
    """CIs whose active agent reported within interval x allowed misses."""
    fresh: set[int] = set()
    agents = Agent.objects.filter(
        status="active", ci__isnull=False, last_report_at__isnull=False
    ).select_related("group")
    for ci_id, last, group in ((a.ci_id, a.last_report_at, a.group) for a in agents.iterator()):
        interval = group.interval_seconds if group else 3600
        missed = group.stale_after_missed if group else 3
        if (
            ci_id is not None
            and last is not None
            and now - last <= dt.timedelta(seconds=interval * missed)
        ):
            fresh.add(ci_id)
    return fresh


def latest_report(ci: ConfigurationItem) -> InventoryReport | None:
    """The CI's last applied report, without its raw body (the page shows what it changed)."""
    return (
        InventoryReport.objects.filter(ci=ci, status="processed")
        .select_related("agent")
        .defer("body")
        .first()
    )


def ci_inventory_panel(ci: ConfigurationItem) -> dict[str, Any]:
    """What the CI page shows of discovery: latest report, events, open discrepancies, agents."""
    return {
        "latest_report": latest_report(ci),
        "events": list(CIEvent.objects.filter(ci=ci).order_by("-at", "-id")[:20]),
        "discrepancies": list(
            Discrepancy.objects.filter(ci=ci, status=DiscrepancyStatus.OPEN)[:50]
        ),
        "agents": list(Agent.objects.filter(ci=ci)),
        "interfaces": list(ci.interfaces.all()),
        "volumes": list(ci.volumes.all()),
    }
