"""What decides whether a wave's gate opens and whether a wave may start now."""

from __future__ import annotations

import datetime as dt
import logging

from ..choices import TargetState
from ..models import Deployment, DeploymentTarget, DeploymentWave

logger = logging.getLogger(__name__)


def new_incidents(wave: DeploymentWave) -> int:
    """Incidents opened on the wave's CIs since the wave started (each counted once)."""
    if wave.started_at is None:
        return 0
    from incidents.models import Incident

    return (
        Incident.objects.filter(
            created__gte=wave.started_at,
            cis__in=DeploymentTarget.objects.filter(wave=wave).values("ci_id"),
        )
        .values("pk")
        .distinct()
        .count()
    )


def success_pct(counts: dict[tuple[int, str], int], wave_id: int) -> float | None:
    """The share of the wave's targets that succeeded, skipped ones left out (None: none)."""
    total = sum(
        n for (w, state), n in counts.items() if w == wave_id and state != TargetState.SKIPPED
    )
    if not total:
        return None
    return 100.0 * counts.get((wave_id, TargetState.SUCCEEDED), 0) / total


def blackout_reason(ci_ids: set[int], start: dt.datetime, end: dt.datetime) -> str:
    """Why changes to these CIs are frozen between start and end ("" if they are not): the
    change calendar's blackouts."""
    from changes.selectors import blackouts_for_cis

    found = blackouts_for_cis(ci_ids, start, end).first()
    if found is None:
        return ""
    return f"Change blackout: {found} (until {found.end:%Y-%m-%d %H:%M})."


def closed_reason(deployment: Deployment, wave: DeploymentWave, now: dt.datetime) -> str:
    """Why `wave` may not start now ("" when it may): outside the deployment window, or in a
    change blackout that applies to its CIs."""
    if deployment.window_start and now < deployment.window_start:
        return (
            f"Waiting for the deployment window (opens {deployment.window_start:%Y-%m-%d %H:%M})."
        )
    if deployment.window_end and now >= deployment.window_end:
        return f"The deployment window closed at {deployment.window_end:%Y-%m-%d %H:%M}."
    ci_ids = set(DeploymentTarget.objects.filter(wave=wave).values_list("ci_id", flat=True))
    return blackout_reason(ci_ids, now, now + dt.timedelta(minutes=1))
