"""Impact and risk of an RFC.

Impact: the ripple set of the RFC's CIs in the CMDB relationship graph, downstream (a
relationship source → target means a failure of the source is felt by the target; see
docs/architecture.md "Impact direction"), walked with the CMDB's own impact statement
(`cmdb.sql.impact_rows`, one recursive CTE per CI) and united over the RFC's CIs, each CI at its
shortest depth. Business services among them are the CIs of the built-in `business-service`
type.

Risk: a score from 0 to 100 made of listed reasons:

- the size of the impact (CIs reached beyond the RFC's own) and the business services in it;
- the criticality of the CIs touched and of the business services reached — the CMDB keeps it
  as the `criticality` attribute (low / medium / high / critical) of business services (any CI
  whose attributes carry it counts);
- incidents on the RFC's CIs opened in the last `CHANGES_RISK_INCIDENT_DAYS` days (90);
- failed or backed-out past changes on those CIs (from post-implementation reviews);
- an emergency change adds its own points (less time to test).

Levels: below 20 low, below 45 medium, below 70 high, else very high.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from cmdb import sql as cmdb_sql
from cmdb.models import CIType, ConfigurationItem
from incidents.models import Incident

from . import sql
from .choices import ChangeType, ReviewOutcome, RiskLevel

#: How many hops the ripple set goes (the CMDB's impact page defaults to 3 too).
IMPACT_DEPTH = 3
#: At most this many CIs per root on SQLite (the CMDB's cap on one impact walk).
IMPACT_CAP_PER_CI = 5000
#: At most this many CIs in an RFC's ripple set (the nearest first); beyond, it is truncated.
MAX_RIPPLE = 50_000
BUSINESS_SERVICE_KEY = "business-service"
CRITICALITY_POINTS = {"low": 0, "medium": 10, "high": 20, "critical": 30}


def incident_days() -> int:
    return int(getattr(settings, "CHANGES_RISK_INCIDENT_DAYS", 90))


@dataclass
class Ripple:
    """CIs reached from a set of roots: id → shortest depth (the roots at 0); `depths` is
    empty when the ripple was written straight to the database (`store_ripple`)."""

    depths: dict[int, int] = field(default_factory=dict)
    business_services: set[int] = field(default_factory=set)
    truncated: bool = False
    reached: int = 0  # CIs beyond the roots


def business_service_type_ids() -> set[int]:
    """Ids of the CI types that are business services (by built-in key, else by slug)."""
    return set(
        CIType.objects.filter(
            Q(builtin_key=BUSINESS_SERVICE_KEY) | Q(slug=BUSINESS_SERVICE_KEY)
        ).values_list("id", flat=True)
    )


def _walk(roots: list[int], depth: int) -> tuple[dict[int, int], dict[int, int], bool]:
    """(depths, ci types, truncated) of the downstream walk from `roots`."""
    depths: dict[int, int] = {}
    types: dict[int, int] = {}
    if connection.vendor == "postgresql":
        rows = sql.ripple_rows(root_ids=roots, depth=depth, cap=MAX_RIPPLE + 1)
        for pk, d, type_id in rows[:MAX_RIPPLE]:
            depths[pk], types[pk] = d, type_id
        return depths, types, len(rows) > MAX_RIPPLE
    truncated = False
    for root in roots:
        rows = cmdb_sql.impact_rows(
            root_id=root, downstream=True, depth=depth, cap=IMPACT_CAP_PER_CI + 1
        )
        nodes = [row for row in rows if row[0] == "n"]
        truncated |= len(nodes) > IMPACT_CAP_PER_CI
        for _, pk, d, _name, type_id, _status in nodes[:IMPACT_CAP_PER_CI]:
            if pk not in depths or d < depths[pk]:
                depths[pk] = d
            types[pk] = type_id
        depths[root] = 0
    if len(depths) > MAX_RIPPLE:
        kept = sorted(depths.items(), key=lambda kv: (kv[1], kv[0]))[:MAX_RIPPLE]
        depths, truncated = dict(kept), True
    return depths, types, truncated


def ripple(ci_ids: Iterable[int], *, depth: int = IMPACT_DEPTH) -> Ripple:
    """The union of the downstream impact of `ci_ids`, each CI at its shortest depth.

    PostgreSQL: one breadth-first walk from all of them (`changes.sql`, the CMDB's walk);
    elsewhere the CMDB's walk from each, united here."""
    roots = sorted(set(ci_ids))
    if not roots:
        return Ripple()
    depths, types, truncated = _walk(roots, depth)
    service_types = business_service_type_ids()
    return Ripple(
        depths=depths,
        business_services={pk for pk in depths if types.get(pk) in service_types},
        truncated=truncated,
        reached=sum(1 for d in depths.values() if d > 0),
    )


def store_ripple(change_id: int, ci_ids: Iterable[int], *, depth: int = IMPACT_DEPTH) -> Ripple:
    """Replace the stored impact rows of an RFC with the ripple of `ci_ids`; answers its
    summary (`depths` left empty on PostgreSQL, where the rows go straight into the table)."""
    from .models import ChangeImpact

    ChangeImpact.objects.filter(change_id=change_id).delete()
    roots = sorted(set(ci_ids))
    if not roots:
        return Ripple()
    if connection.vendor != "postgresql":
        result = ripple(roots, depth=depth)
        ChangeImpact.objects.bulk_create(
            ChangeImpact(
                change_id=change_id,
                ci_id=pk,
                depth=d,
                business_service=pk in result.business_services,
            )
            for pk, d in result.depths.items()
        )
        return result
    written = sql.ripple_insert(
        change_id=change_id,
        root_ids=roots,
        depth=depth,
        cap=MAX_RIPPLE,
        service_types=business_service_type_ids(),
    )
    rows = ChangeImpact.objects.filter(change_id=change_id)
    return Ripple(
        business_services=set(rows.filter(business_service=True).values_list("ci_id", flat=True)),
        truncated=written >= MAX_RIPPLE,
        reached=rows.filter(depth__gt=0).count(),
    )


@dataclass
class Risk:
    score: int
    level: str
    reasons: list[dict[str, Any]]


def level_for(score: int) -> str:
    """The risk level of a score."""
    if score < 20:
        return RiskLevel.LOW
    if score < 45:
        return RiskLevel.MEDIUM
    if score < 70:
        return RiskLevel.HIGH
    return RiskLevel.VERY_HIGH


def _size_points(reached: int) -> int:
    if reached == 0:
        return 0
    if reached <= 5:
        return 5
    if reached <= 20:
        return 10
    if reached <= 100:
        return 15
    return 20


def assess_risk(
    *,
    ci_ids: Iterable[int],
    ripple_set: Ripple,
    change_type: str,
    exclude_change_id: int | None = None,
    now: dt.datetime | None = None,
) -> Risk:
    """The risk score of changing `ci_ids` with the ripple `ripple_set`, with its reasons."""
    from .models import Change  # a model of this app; impact.py is imported by services

    roots = set(ci_ids)
    now = now or timezone.now()
    reasons: list[dict[str, Any]] = []

    def add(factor: str, points: int, detail: str) -> None:
        if points:
            reasons.append({"factor": factor, "points": points, "detail": detail})

    reached = ripple_set.reached
    add("impact_size", _size_points(reached), f"{reached} CIs reached beyond the RFC's own")
    services = len(ripple_set.business_services)
    add(
        "business_services",
        min(services * 5, 15),
        f"{services} business service{'s' if services != 1 else ''} affected",
    )

    criticality_ids = roots | ripple_set.business_services
    best, best_name = 0, ""
    for name, attributes in ConfigurationItem.objects.filter(pk__in=criticality_ids).values_list(
        "name", "attributes"
    ):
        value = str((attributes or {}).get("criticality", "")).lower()
        points = CRITICALITY_POINTS.get(value, 0)
        if points > best:
            best, best_name = points, f"{name} is {value}"
    add("criticality", best, f"most critical CI touched or affected: {best_name}")

    since = now - dt.timedelta(days=incident_days())
    incidents = (
        Incident.objects.filter(cis__in=roots, created__gte=since).values("pk").distinct().count()
        if roots
        else 0
    )
    add(
        "recent_incidents",
        min(incidents * 5, 20),
        f"{incidents} incident{'s' if incidents != 1 else ''} on these CIs "
        f"in the last {incident_days()} days",
    )

    failed = Change.objects.filter(
        cis__in=roots, outcome__in=[ReviewOutcome.FAILED, ReviewOutcome.BACKED_OUT]
    )
    if exclude_change_id is not None:
        failed = failed.exclude(pk=exclude_change_id)
    failures = failed.values("pk").distinct().count() if roots else 0
    add(
        "failed_changes",
        min(failures * 10, 20),
        f"{failures} earlier change{'s' if failures != 1 else ''} on these CIs "
        "failed or were backed out",
    )
    if change_type == ChangeType.EMERGENCY:
        add("emergency", 10, "emergency change: little time to test")

    score = min(sum(r["points"] for r in reasons), 100)
    return Risk(score=score, level=level_for(score), reasons=reasons)
