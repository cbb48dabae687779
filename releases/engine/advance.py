"""`advance(deployment_id)`: look at the state in the database and do what is due. Idempotent,
so it runs after each commit that may have changed something and from the periodic reconciler.

What is due: expired leases marked lost (an idempotent step is retried at attempt + 1, a
non-idempotent one pauses the deployment for a person); steps whose message may be lost sent
again; a wave under way stopped when its window closes or a blackout starts (outside its
window), and resumed when it opens again; a wave whose targets are all done waits on its gate
(bake time, success %, new incidents: otherwise the deployment halts by itself; or a person's
sign-off); the next wave started when the gate opened and the window and blackouts allow; the
deployment finished; the targets of a cancelled or failed deployment settled once their
running steps are done.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from .. import executors
from ..choices import (
    DEPLOYMENT_ACTIVE,
    DEPLOYMENT_ENDED,
    DeploymentStatus,
    GateKind,
    StepPhase,
    StepState,
    TargetState,
    WaveStatus,
)
from ..models import Deployment, DeploymentStep, DeploymentTarget, DeploymentWave
from . import gates, planning
from .locks import lock_deployment, reconciler_lock
from .steps import CLAIMING_FOR_PHASE, claimable, dispatch
from .transitions import transition, transition_many

logger = logging.getLogger(__name__)

#: Most steps re-sent by one advance (the rest next time).
REDISPATCH_BATCH = 5000


def redispatch_seconds() -> int:
    """A pending step whose message is older than this is sent again (a duplicate is a no-op)."""
    return int(getattr(settings, "RELEASES_REDISPATCH_SECONDS", 60))


def advance_later(deployment_id: int) -> None:
    """Run `advance` in a worker (in-process when Celery runs eagerly); the reconciler covers a
    message that is lost."""
    from ..tasks import advance_task

    try:
        advance_task.delay(deployment_id)
    except Exception:
        logger.warning("could not queue advance of %s; the reconciler will", deployment_id)


def advance(deployment_id: int) -> dict[str, Any]:
    """Do what is due for one deployment; returns a summary of what was done."""
    done: dict[str, Any] = {}
    now = timezone.now()
    with transaction.atomic():
        lock_deployment(deployment_id)
        deployment = Deployment.objects.select_related("release").filter(pk=deployment_id).first()
        if deployment is None:
            return done
        done["lost"] = _expire_leases(deployment, now)
        reopened = False
        if deployment.status in WINDOWED:
            waves, counts = _waves_and_counts(deployment)
            window = _follow_window(deployment, waves, counts, now)
            done.update(window)
            reopened = bool(window.get("reopened"))
            if deployment.status in WINDOWED:
                done.update(_advance_waves(deployment, waves, counts, now))
        elif deployment.status == DeploymentStatus.BACKING_OUT:
            done["finished"] = _finish_backout(deployment)
        elif deployment.status in DEPLOYMENT_ENDED:
            done["settled"] = settle_ended(deployment)["settled"]
        done["redispatched"] = _redispatch(deployment, now, every=reopened)
        done["status"] = deployment.status
    return done


def reconcile() -> int:
    """The periodic sweep (celery beat): advance every deployment with something under way,
    holding an advisory lock so one reconciler runs at a time. Returns how many it advanced."""
    with reconciler_lock() as got:
        if not got:
            return 0
        active_targets = (TargetState.RUNNING, TargetState.BACKING_OUT, TargetState.LOST)
        ids = set(
            Deployment.objects.filter(status__in=DEPLOYMENT_ACTIVE).values_list("pk", flat=True)
        ) | set(
            DeploymentTarget.objects.filter(state__in=active_targets)
            .values_list("deployment_id", flat=True)
            .distinct()
        )
        for deployment_id in sorted(ids):
            try:
                advance(deployment_id)
            except Exception:
                logger.exception("advance of deployment %s failed", deployment_id)
        return len(ids)


# --- leases --------------------------------------------------------------------------------


def _expire_leases(deployment: Deployment, now: dt.datetime) -> int:
    expired = list(
        DeploymentStep.objects.filter(
            deployment=deployment,
            state__in=(StepState.CLAIMED, StepState.RUNNING),
            lease_expires_at__lt=now,
        ).select_related("target")
    )
    for step in expired:
        if not transition(
            step,
            StepState.LOST,
            event=f"lease of {step.lease_owner} expired: outcome unknown",
            where={"attempt": step.attempt},
        ):
            continue
        target = step.target
        back_to = target.state
        if target.state in (TargetState.RUNNING, TargetState.BACKING_OUT):
            transition(target, TargetState.LOST, event=f"step “{step.name}” lost")
        if step.idempotent:
            retried = transition(
                step,
                StepState.PENDING,
                event=f"idempotent: retried as attempt {step.attempt + 1}",
                updates={
                    "attempt": step.attempt + 1,
                    "lease_owner": "",
                    "lease_expires_at": None,
                    "dispatched_at": now,
                },
            )
            if target.state == TargetState.LOST and back_to in (
                TargetState.RUNNING,
                TargetState.BACKING_OUT,
            ):
                transition(target, back_to, event="lost step retried")
            if retried:
                dispatch(deployment.executor, [(step.pk, step.attempt)])
        elif deployment.status in (*WINDOWED, DeploymentStatus.BACKING_OUT):
            transition(
                deployment,
                DeploymentStatus.PAUSED,
                event="paused for a person",
                updates={
                    "reason": f"Step “{step.name}” on CI {target.ci_id} lost its worker and is "
                    "not idempotent: retry it or back the target out, then resume."
                },
            )
    return len(expired)


def _redispatch(deployment: Deployment, now: dt.datetime, *, every: bool = False) -> int:
    """Send again the claimable steps whose message may be lost (`every`: all of them, when
    the deployment has just resumed by itself and the messages sent meanwhile were refused)."""
    if executors.get(deployment.executor).is_remote:
        return 0
    phases = [p for p, statuses in CLAIMING_FOR_PHASE.items() if deployment.status in statuses]
    if not phases:
        return 0
    cutoff = now if every else now - dt.timedelta(seconds=redispatch_seconds())
    # A step's message was sent when it was dispatched, or (the next step of a target) when
    # the step before it finished: older than the cutoff, it may be lost.
    recent = DeploymentStep.objects.filter(
        target_id=OuterRef("target_id"), order__lt=OuterRef("order"), finished_at__gte=cutoff
    )
    stale = list(
        claimable(DeploymentStep.objects.filter(deployment=deployment, phase__in=phases))
        .filter(Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=cutoff))
        .exclude(Exists(recent))
        .order_by("pk")
        .values_list("pk", "attempt")[:REDISPATCH_BATCH]
    )
    if stale:
        DeploymentStep.objects.filter(pk__in=[pk for pk, _ in stale]).update(dispatched_at=now)
        dispatch(deployment.executor, stale)
    return len(stale)


# --- waves ---------------------------------------------------------------------------------

UNFINISHED_TARGET = (
    TargetState.PENDING,
    TargetState.RUNNING,
    TargetState.LOST,
    TargetState.BACKING_OUT,
)


def _halt(deployment: Deployment, wave: DeploymentWave, reason: str) -> None:
    transition(wave, WaveStatus.HALTED, event=reason, updates={"reason": reason})
    transition(deployment, DeploymentStatus.HALTED, event=reason, updates={"reason": reason})


#: The deployment statuses in which waves move on (`_advance_waves`) and the window is watched.
WINDOWED = (DeploymentStatus.RUNNING, DeploymentStatus.OUTSIDE_WINDOW)


def _waves_and_counts(
    deployment: Deployment,
) -> tuple[list[DeploymentWave], dict[tuple[int, str], int]]:
    waves = list(deployment.waves.order_by("order"))
    counts = {
        (row["wave_id"], row["state"]): row["n"]
        for row in DeploymentTarget.objects.filter(deployment=deployment)
        .values("wave_id", "state")
        .annotate(n=Count("id"))
        .order_by()
    }
    return waves, counts


def _held_text(reason: str) -> str:
    return (
        f"{reason} Running steps finish and no new step starts; the deployment resumes by "
        "itself when the window is open and no blackout applies."
    )


def _follow_window(
    deployment: Deployment,
    waves: list[DeploymentWave],
    counts: dict[tuple[int, str], int],
    now: dt.datetime,
) -> dict[str, Any]:
    """Stop a wave under way when its window closes or a blackout starts on its CIs (running
    → outside_window: no new claims), and resume by itself when it may go on (a person's pause
    is never resumed here). Between waves nothing is under way: the next wave simply waits
    (`_advance_waves`)."""
    under_way = [
        w.pk
        for w in waves
        if w.status == WaveStatus.RUNNING
        and any(counts.get((w.pk, state), 0) for state in gates.WORK_LEFT)
    ]
    if deployment.status == DeploymentStatus.RUNNING:
        reason = gates.held_reason(deployment, under_way, now) if under_way else ""
        if not reason:
            return {}
        transition(
            deployment,
            DeploymentStatus.OUTSIDE_WINDOW,
            event=f"stopped by itself: {reason}",
            updates={"reason": _held_text(reason)},
        )
        return {"outside_window": reason}
    if under_way:
        reason = gates.held_reason(deployment, under_way, now)
    else:
        following = next((w for w in waves if w.status == WaveStatus.PENDING), None)
        reason = gates.closed_reason(deployment, following, now) if following else ""
    if reason:
        text = _held_text(reason)
        if deployment.reason != text:
            Deployment.objects.filter(pk=deployment.pk).update(reason=text)
            deployment.reason = text
        return {"outside_window": reason}
    transition(
        deployment,
        DeploymentStatus.RUNNING,
        event="the window is open and no blackout applies: resumed by itself",
        updates={"reason": ""},
    )
    return {"reopened": True}


def _advance_waves(
    deployment: Deployment,
    waves: list[DeploymentWave],
    counts: dict[tuple[int, str], int],
    now: dt.datetime,
) -> dict[str, Any]:
    done: dict[str, Any] = {}
    for wave in waves:
        if wave.status not in (WaveStatus.RUNNING, WaveStatus.WAITING):
            continue
        unfinished = sum(counts.get((wave.pk, s), 0) for s in UNFINISHED_TARGET)
        if wave.gate == GateKind.AUTOMATIC:
            incidents = gates.new_incidents(wave)
            if incidents > wave.max_new_incidents:
                _halt(
                    deployment,
                    wave,
                    f"{incidents} new incident(s) on the CIs of wave “{wave.name}” since it "
                    f"started (at most {wave.max_new_incidents}).",
                )
                done["halted"] = wave.pk
                return done
        if wave.status == WaveStatus.RUNNING:
            if unfinished:
                return done
            transition(
                wave,
                WaveStatus.WAITING,
                event="every target done"
                + (f"; baking {wave.bake_minutes} min" if wave.bake_minutes else ""),
                updates={
                    "finished_at": now,
                    "bake_until": now + dt.timedelta(minutes=wave.bake_minutes),
                },
            )
        if wave.status == WaveStatus.WAITING:
            if wave.gate == GateKind.MANUAL:
                return done  # a person signs it off
            if wave.bake_until and now < wave.bake_until:
                return done
            pct = gates.success_pct(counts, wave.pk)
            if pct is None:
                # Inconclusive (every target skipped): a person decides; a failed check halts.
                reason = f"Wave “{wave.name}”: no target outcome to judge its gate by."
                transition(
                    deployment,
                    DeploymentStatus.PAUSED,
                    event="gate inconclusive: paused for a person",
                    updates={"reason": reason},
                )
                done["paused"] = wave.pk
                return done
            if pct < wave.min_success_pct:
                _halt(
                    deployment,
                    wave,
                    f"Wave “{wave.name}”: {round(pct, 1)}% of its targets "
                    f"succeeded (at least {wave.min_success_pct}% needed).",
                )
                done["halted"] = wave.pk
                return done
            transition(wave, WaveStatus.SUCCEEDED, event=f"gate passed: {round(pct, 1)}% succeeded")
    if any(w.status != WaveStatus.SUCCEEDED for w in waves if w.status != WaveStatus.PENDING):
        return done
    following = next((w for w in waves if w.status == WaveStatus.PENDING), None)
    if following is None:
        _finish(deployment)
        done["finished"] = True
        return done
    closed = gates.closed_reason(deployment, following, now)
    if closed:
        # Outside its window, the reason (set by `_follow_window`) already says so.
        if deployment.status == DeploymentStatus.RUNNING and deployment.reason != closed:
            Deployment.objects.filter(pk=deployment.pk).update(reason=closed)
        done["waiting"] = closed
        return done
    if deployment.status == DeploymentStatus.OUTSIDE_WINDOW:
        transition(deployment, DeploymentStatus.RUNNING, event="the next wave's window is open")
    start_wave(deployment, following, now)
    done["started"] = following.pk
    return done


def start_wave(deployment: Deployment, wave: DeploymentWave, now: dt.datetime) -> None:
    """Start a wave: its targets' prior state, their steps, the first step of each sent."""
    if not transition(
        wave, WaveStatus.RUNNING, event=f"wave “{wave.name}” started", updates={"started_at": now}
    ):
        return
    firsts = planning.create_steps(wave, planning.install_steps(deployment.release))
    dispatch(deployment.executor, firsts)


def _finish(deployment: Deployment) -> None:
    transition(
        deployment,
        DeploymentStatus.SUCCEEDED,
        event="every wave succeeded",
        updates={"finished_at": timezone.now(), "reason": ""},
    )
    from ..services import release_deployed

    release_deployed(release_id=deployment.release_id)


def _finish_backout(deployment: Deployment) -> bool:
    busy = (
        DeploymentTarget.objects.filter(
            deployment=deployment,
            state__in=(TargetState.RUNNING, TargetState.BACKING_OUT, TargetState.LOST),
        ).exists()
        or DeploymentStep.objects.filter(
            deployment=deployment, state__in=(StepState.CLAIMED, StepState.RUNNING)
        ).exists()
    )
    if busy:
        return False
    failed = DeploymentStep.objects.filter(
        deployment=deployment, phase=StepPhase.BACKOUT, state=StepState.FAILED
    ).exists()
    if failed:
        transition(
            deployment,
            DeploymentStatus.PAUSED,
            event="a backout step failed",
            updates={
                "reason": "A backout step failed: retry the target's backout or fix it by hand."
            },
        )
        return False
    transition(
        deployment,
        DeploymentStatus.BACKED_OUT,
        event="every target backed out",
        updates={"finished_at": timezone.now()},
    )
    from ..services import release_backed_out

    release_backed_out(release_id=deployment.release_id)
    return True


# --- a deployment a person ended -----------------------------------------------------------


def settle_ended(deployment: Deployment) -> dict[str, int]:
    """Give each target of a cancelled or failed deployment its final state once nothing of it
    runs: never started → skipped (its steps too); started → failed, its later steps left
    pending (a backout skips them). A target with a step still running settles when that step
    is done (`advance`, from the reconciler). Returns how many settled and how many
    never-started steps could not be skipped because a worker held them (a claim racing the
    end: that target is counted as changed)."""
    in_flight = DeploymentStep.objects.filter(
        target_id=OuterRef("pk"), state__in=(StepState.CLAIMED, StepState.RUNNING)
    )
    started = DeploymentStep.objects.filter(target_id=OuterRef("pk"), started_at__isnull=False)
    rows = (
        DeploymentTarget.objects.filter(
            deployment=deployment,
            state__in=(TargetState.PENDING, TargetState.RUNNING, TargetState.LOST),
        )
        .exclude(Exists(in_flight))
        .annotate(was_started=Exists(started))
        .values_list("pk", "state", "was_started")
    )
    groups: dict[tuple[str, str], list[int]] = {}
    for pk, state, was_started in rows:
        to = (
            TargetState.FAILED
            if was_started and state != TargetState.PENDING
            else TargetState.SKIPPED
        )
        groups.setdefault((state, to), []).append(pk)
    now = timezone.now()
    verb = deployment.get_status_display().lower()
    settled, never_started = 0, []
    for (from_state, to), ids in sorted(groups.items()):
        moved = transition_many(
            DeploymentTarget,
            ids,
            to,
            expected_from=from_state,
            deployment_id=deployment.pk,
            event=f"deployment {verb}: never started"
            if to == TargetState.SKIPPED
            else f"deployment {verb}: stopped part way, back it out",
            updates={"finished_at": now},
        )
        settled += len(moved)
        if to == TargetState.SKIPPED:
            never_started += moved
    pending = list(
        DeploymentStep.objects.filter(
            target_id__in=never_started, state=StepState.PENDING
        ).values_list("pk", flat=True)
    )
    skipped = transition_many(
        DeploymentStep,
        pending,
        StepState.SKIPPED,
        expected_from=StepState.PENDING,
        deployment_id=deployment.pk,
        event=f"deployment {verb}",
    )
    return {"settled": settled, "held": len(pending) - len(skipped)}
