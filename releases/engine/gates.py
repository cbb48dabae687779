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


def blackout_reason(start: dt.datetime, end: dt.datetime) -> str:
    """Why changes are frozen between start and end ("" if they are not): the change
    calendar's blackouts (changes app), when it offers them."""
    try:
        from changes import selectors
    except ImportError:
        return ""
    finder = getattr(selectors, "blackouts_overlapping", None)
    if finder is None:
        return ""
    try:
        found = list(finder(start=start, end=end))
    except Exception:  # the calendar must never stop the engine; logged
        logger.exception("blackout look-up failed")
        return ""
    if not found:
        return ""
    return f"Change blackout: {found[0]}"


def closed_reason(deployment: Deployment, now: dt.datetime) -> str:
    """Why no wave may start now ("" when one may): outside the deployment window, or in a
    change blackout."""
    if deployment.window_start and now < deployment.window_start:
        return (
            f"Waiting for the deployment window (opens {deployment.window_start:%Y-%m-%d %H:%M})."
        )
    if deployment.window_end and now >= deployment.window_end:
        return f"The deployment window closed at {deployment.window_end:%Y-%m-%d %H:%M}."
    return blackout_reason(now, now + dt.timedelta(minutes=1))
