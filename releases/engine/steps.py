"""Claiming, running and recording steps.

A step is claimed with a conditional UPDATE (state pending, the attempt the message carries, the
version read): a redelivered or stale message claims nothing, so no attempt of a step runs
twice. The claim holds a lease (`lease_owner`, `lease_expires_at`); `advance` marks a step whose
lease expired *lost*. A result is recorded only for the current attempt by its lease owner (or,
for the agent executor, by the agent of the step's CI).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from itsm.exceptions import ApplicationError, ConflictError, PermissionDeniedError

from .. import executors
from ..choices import (
    DeploymentStatus,
    StepPhase,
    StepState,
    TargetState,
)
from ..executors import StepResult
from ..models import Deployment, DeploymentStep, DeploymentTarget
from . import cmdb_follow
from .transitions import transition

logger = logging.getLogger(__name__)

WORKER = f"{socket.gethostname()}:{os.getpid()}"

#: Install and verify steps are claimed only while the deployment runs (a pause or a halt stops
#: new claims; running steps finish). Backout steps are claimed unless it is paused.
CLAIMING_FOR_PHASE = {
    StepPhase.INSTALL: frozenset({DeploymentStatus.RUNNING}),
    StepPhase.VERIFY: frozenset({DeploymentStatus.RUNNING}),
    StepPhase.BACKOUT: frozenset(
        {
            DeploymentStatus.RUNNING,
            DeploymentStatus.OUTSIDE_WINDOW,
            DeploymentStatus.BACKING_OUT,
            DeploymentStatus.HALTED,
            DeploymentStatus.SUCCEEDED,
            DeploymentStatus.FAILED,
            DeploymentStatus.CANCELLED,
        }
    ),
}
ACTIVE_TARGET = (TargetState.RUNNING, TargetState.BACKING_OUT)
UNFINISHED_STEP = (StepState.PENDING, StepState.CLAIMED, StepState.RUNNING)


def lease_seconds() -> int:
    """How long a claim holds (above the run_step task's hard time limit)."""
    return int(getattr(settings, "RELEASES_LEASE_SECONDS", 300))


def blocked_by_earlier() -> Exists:
    """An earlier step of the same target is not finished (the step must wait)."""
    return Exists(
        DeploymentStep.objects.filter(
            target_id=OuterRef("target_id"), order__lt=OuterRef("order"), state__in=UNFINISHED_STEP
        )
    )


def claimable(queryset):
    """The steps of `queryset` that may be claimed now: pending, target active, nothing earlier
    unfinished (the deployment's status is checked per phase by the caller)."""
    return queryset.filter(state=StepState.PENDING, target__state__in=ACTIVE_TARGET).exclude(
        blocked_by_earlier()
    )


def _claim(step: DeploymentStep, *, attempt: int, owner: str, deployment_status: str) -> bool:
    if step.state != StepState.PENDING or step.attempt != attempt:
        return False
    if deployment_status not in CLAIMING_FOR_PHASE[step.phase]:
        return False
    now = timezone.now()
    return transition(
        step,
        StepState.CLAIMED,
        expected_from=StepState.PENDING,
        where={"attempt": attempt},
        event=f"claimed by {owner}",
        updates={
            "lease_owner": owner[:200],
            "lease_expires_at": now + dt.timedelta(seconds=lease_seconds()),
            "started_at": now,
        },
    )


def step_claim(*, step_id: int, attempt: int, owner: str = WORKER) -> DeploymentStep | None:
    """Claim one step for `owner` if it is still claimable at this attempt, else None."""
    step = (
        claimable(DeploymentStep.objects.filter(pk=step_id))
        .select_related("target", "deployment", "deployment__release")
        .first()
    )
    if step is None:
        return None
    if not _claim(step, attempt=attempt, owner=owner, deployment_status=step.deployment.status):
        return None
    return step


def step_run(*, step_id: int, attempt: int) -> str:
    """Claim the step, run it with the deployment's executor, record the result (the body of
    the `releases.run_step` task). Returns what happened, for the worker's log."""
    step = step_claim(step_id=step_id, attempt=attempt)
    if step is None:
        return "not claimable (already claimed, finished, stale attempt, or paused)"
    executor = executors.get(step.deployment.executor)
    try:
        result = executor.run_step(step, params=step.deployment.simulation or {})
    except Exception as exc:  # the executor's failure is the step's failure, logged
        logger.exception("step %s failed in its executor", step.pk)
        result = StepResult(ok=False, log=f"executor error: {exc}")
    recorded = record_result(step=step, result=result, owner=WORKER)
    return step.state if recorded else "result discarded (lease lost)"


def record_result(*, step: DeploymentStep, result: StepResult, owner: str | None = None) -> bool:
    """Record the result of the step's current attempt; move its target on. False when the
    attempt is no longer current (the lease expired and the step was retried)."""
    where: dict[str, Any] = {"attempt": step.attempt}
    if owner is not None:
        where["lease_owner"] = owner[:200]
    to_state = result.state
    log = (step.log + "\n" if step.log else "") + (result.log or "")
    with transaction.atomic():
        moved = transition(
            step,
            to_state,
            expected_from=(StepState.CLAIMED, StepState.RUNNING),
            where=where,
            event=f"attempt {step.attempt}: {to_state}",
            updates={
                "log": log[-200_000:],
                "result": result.data or {},
                "finished_at": timezone.now(),
                "lease_expires_at": None,
            },
        )
        if not moved:
            return False
        if result.on_record is not None:
            result.on_record()
        _after_step(step, ok=to_state != StepState.FAILED)
    return True


def _after_step(step: DeploymentStep, *, ok: bool) -> None:
    """Move the step's target on: dispatch its next step, or finish it. The target is the one
    read with the claim: if it moved since (a backout), the version-checked moves below do
    nothing, and only a pending step is ever dispatched."""
    target = step.target
    if "deployment" not in step._state.fields_cache:
        step.deployment = Deployment.objects.select_related("release").get(pk=step.deployment_id)
    target.deployment = step.deployment
    if target.state not in ACTIVE_TARGET:
        return  # e.g. the step of a target being backed out as a whole: nothing more to do
    if not ok:
        _fail_target(target, reason=f"step {step.order} “{step.name}” failed")
        return
    following = (
        DeploymentStep.objects.filter(target_id=target.pk, state=StepState.PENDING)
        .order_by("order")
        .values_list("pk", "attempt")
        .first()
    )
    if following is not None:
        # Its message's age is this step's `finished_at` (the reconciler's redispatch rule).
        dispatch(target.deployment.executor, [following])
        return
    finish_target(target)


def _fail_target(target: DeploymentTarget, *, reason: str) -> None:
    """The target failed; its later steps stay pending (a retry runs them, a backout skips
    them)."""
    transition(target, TargetState.FAILED, event=reason, updates={"finished_at": timezone.now()})
    after_target_finished(target)


def finish_target(target: DeploymentTarget) -> None:
    """Every step of the target is done: mark it succeeded (or backed out) and record it in
    the CMDB, in the same transaction (a target that moved meanwhile writes nothing)."""
    number = target.deployment.release.number
    if target.state == TargetState.BACKING_OUT:
        if not transition(
            target,
            TargetState.BACKED_OUT,
            event="backout steps done; CMDB restored",
            updates={"finished_at": timezone.now(), "recorded_state": {}},
        ):
            return
        cmdb_follow.restore_prior(target, number)
    else:
        if not transition(
            target,
            TargetState.SUCCEEDED,
            event="every step done; CMDB updated",
            updates={"finished_at": timezone.now()},
        ):
            return
        recorded = cmdb_follow.follow_success(target, number)
        if recorded:
            DeploymentTarget.objects.filter(pk=target.pk).update(recorded_state=recorded)
            target.recorded_state = recorded
    after_target_finished(target)


def after_target_finished(target: DeploymentTarget) -> None:
    """After commit: when the wave has no active target left, advance the deployment (checked
    after our own commit, so the last of concurrent finishers always sees the others)."""
    wave_id, deployment_id = target.wave_id, target.deployment_id

    def check() -> None:
        if not DeploymentTarget.objects.filter(
            wave_id=wave_id, state__in=(TargetState.PENDING, *ACTIVE_TARGET)
        ).exists():
            from .advance import advance_later

            advance_later(deployment_id)

    transaction.on_commit(check)


def dispatch(executor_name: str, steps: list[tuple[int, int]]) -> None:
    """After commit, send `releases.run_step(step_id, attempt)` for each step, unless the
    executor is remote (the agent fetches its steps itself). A lost message is re-sent by the
    reconciler; a duplicate claims nothing."""
    if not steps or executors.get(executor_name).is_remote:
        return

    def send() -> None:
        from ..tasks import run_step_task

        for step_id, attempt in steps:
            try:
                run_step_task.apply_async((step_id, attempt))
            except Exception:  # broker down: the reconciler re-sends
                logger.warning("could not send step %s; the reconciler will", step_id)
                return

    transaction.on_commit(send)


# --- the agent executor's side -------------------------------------------------------------


def step_claim_for_agent(*, ci_id: int, owner: str, limit: int = 20) -> list[DeploymentStep]:
    """Claim the steps waiting for the agent of CI `ci_id` (agent executor), at most one per
    target (the next in order), with a lease; returns them claimed, artifact loaded."""
    candidates = list(
        claimable(DeploymentStep.objects.filter(target__ci_id=ci_id, deployment__executor="agent"))
        .select_related("deployment", "artifact", "target")
        .order_by("target_id", "order")[: limit * 2]
    )
    claimed: list[DeploymentStep] = []
    seen_targets: set[int] = set()
    for step in candidates:
        if step.target_id in seen_targets or len(claimed) >= limit:
            continue
        seen_targets.add(step.target_id)
        if _claim(
            step, attempt=step.attempt, owner=owner, deployment_status=step.deployment.status
        ):
            claimed.append(step)
    return claimed


def step_record_result(
    *,
    step_id: int,
    attempt: int,
    ok: bool,
    log: str = "",
    outcome: str = "",
    ci_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> DeploymentStep:
    """Record an agent's result for a step. Refused (403) for a step not of the agent's CI,
    (409) for an attempt that is not the current one or a step not claimed."""
    step = (
        DeploymentStep.objects.select_related("target", "deployment__release")
        .filter(pk=step_id)
        .first()
    )
    if step is None:
        raise ApplicationError("No such step.")
    if ci_id is not None and step.target.ci_id != ci_id:
        raise PermissionDeniedError("This step is not for this agent's machine.")
    if step.attempt != attempt:
        raise ConflictError(
            f"Attempt {attempt} is not the current one ({step.attempt}).",
            extra={"current_attempt": step.attempt},
        )
    if step.state not in (StepState.CLAIMED, StepState.RUNNING):
        raise ConflictError(f"The step is {step.state}, not waiting for a result.")
    if outcome and outcome not in (StepState.SUCCEEDED, StepState.FAILED, StepState.SKIPPED):
        raise ApplicationError("outcome is succeeded, failed or skipped.")
    result = StepResult(ok=ok, log=log, outcome=outcome, data=data or {})
    if not record_result(step=step, result=result):
        raise ConflictError("The step moved on meanwhile; the result was not recorded.")
    return step
