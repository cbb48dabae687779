"""What decides whether a wave's gate opens and whether a wave may start now."""

from __future__ import annotations

import datetime as dt
import logging

from django.utils import timezone

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
    return f"Change blackout: {found} (until {timezone.localtime(found.end):%Y-%m-%d %H:%M})."


def window_reason(deployment: Deployment, now: dt.datetime) -> str:
    """Why the deployment's window does not allow work now ("" when it does)."""
    if deployment.window_start and now < deployment.window_start:
        opens = timezone.localtime(deployment.window_start)
        return f"Waiting for the deployment window (opens {opens:%Y-%m-%d %H:%M})."
    if deployment.window_end and now >= deployment.window_end:
        closed = timezone.localtime(deployment.window_end)
        return f"The deployment window closed at {closed:%Y-%m-%d %H:%M}."
    return ""


def closed_reason(deployment: Deployment, wave: DeploymentWave, now: dt.datetime) -> str:
    """Why `wave` may not start now ("" when it may): outside the deployment window, or in a
    change blackout that applies to its CIs."""
    reason = window_reason(deployment, now)
    if reason:
        return reason
    ci_ids = set(DeploymentTarget.objects.filter(wave=wave).values_list("ci_id", flat=True))
    return blackout_reason(ci_ids, now, now + BLACKOUT_LOOKAHEAD)


#: Targets with install or verify work left (a blackout on their CI holds the wave).
WORK_LEFT = (TargetState.PENDING, TargetState.RUNNING, TargetState.LOST)
BLACKOUT_LOOKAHEAD = dt.timedelta(minutes=1)


def held_reason(deployment: Deployment, wave_ids: list[int], now: dt.datetime) -> str:
    """Why the waves under way (`wave_ids`) must stop claiming now ("" when they may go on):
    the window closed (or is moved later), or a change blackout applies to a CI that still has
    work left. Cheap when no blackout is on: one query."""
    reason = window_reason(deployment, now)
    if reason or not wave_ids:
        return reason
    from changes.selectors import blackouts_overlapping

    if not blackouts_overlapping(now, now + BLACKOUT_LOOKAHEAD).exists():
        return ""
    ci_ids = set(
        DeploymentTarget.objects.filter(wave_id__in=wave_ids, state__in=WORK_LEFT).values_list(
            "ci_id", flat=True
        )
    )
    if not ci_ids:
        return ""
    return blackout_reason(ci_ids, now, now + BLACKOUT_LOOKAHEAD)
