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
import time
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from itsm.exceptions import ApplicationError, ConflictError, PermissionDeniedError

from .. import executors, sql
from ..choices import (
    TARGET_UNFINISHED,
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


def _claim_terms(owner: str) -> sql.ClaimTerms:
    """The terms of a claim by `owner` now (PostgreSQL)."""
    now = timezone.now()
    return sql.ClaimTerms(
        owner=owner,
        lease_until=now + dt.timedelta(seconds=lease_seconds()),
        now=now,
        active_targets=ACTIVE_TARGET,
        claiming_for_phase=CLAIMING_FOR_PHASE,
        message=f"claimed by {owner}",
    )


def step_claim(*, step_id: int, attempt: int, owner: str = WORKER) -> DeploymentStep | None:
    """Claim one step for `owner` if it is still claimable at this attempt, else None."""
    if sql.available():
        return sql.claim_step(step_id=step_id, attempt=attempt, terms=_claim_terms(owner))
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


def _claim_next(target: DeploymentTarget, *, owner: str) -> sql.NextStep:
    """Claim the target's next pending step for `owner` (the worker that ran the step before
    it), if claimable now; its deployment is the target's. Says which step is pending when
    it cannot be claimed, and, when none is, how many other targets of the wave are
    unfinished (PostgreSQL; not counted elsewhere)."""
    if sql.available():
        found = sql.claim_next_step(
            target_id=target.pk, wave_id=target.wave_id, terms=_claim_terms(owner)
        )
    else:
        step = (
            claimable(DeploymentStep.objects.filter(target_id=target.pk))
            .select_related("target", "deployment", "deployment__release")
            .order_by("order")
            .first()
        )
        if step is not None and not _claim(
            step, attempt=step.attempt, owner=owner, deployment_status=step.deployment.status
        ):
            step = None
        found = sql.NextStep(step, None if step is not None else _pending_step(target))
    if found.claimed is not None:
        found.claimed.deployment = target.deployment
    return found


def _pending_step(target: DeploymentTarget) -> tuple[int, int] | None:
    """(id, attempt) of the target's next pending step, if any."""
    return (
        DeploymentStep.objects.filter(target_id=target.pk, state=StepState.PENDING)
        .order_by("order")
        .values_list("pk", "attempt")
        .first()
    )


def chain_seconds() -> float:
    """How long one `run_step` task goes on running the following steps of its target itself
    (each claimed with the previous one's result) before it leaves the rest to new messages:
    kept well below the task's time limit, so a step started late in the chain still has
    nearly all of it."""
    default = lease_seconds() / 10
    return float(getattr(settings, "RELEASES_CHAIN_SECONDS", default))


def _execute(step: DeploymentStep) -> StepResult:
    executor = executors.get(step.deployment.executor)
    try:
        return executor.run_step(step, params=step.deployment.simulation or {})
    except Exception as exc:  # the executor's failure is the step's failure, logged
        logger.exception("step %s failed in its executor", step.pk)
        return StepResult(ok=False, log=f"executor error: {exc}")


def step_run(*, step_id: int, attempt: int) -> str:
    """Claim the step, run it with the deployment's executor, record the result (the body of
    the `releases.run_step` task). While within `chain_seconds()`, the target's next step is
    claimed with this result, in the same transaction, and run here too: one message per
    target rather than per step. Returns what happened to the first step, for the worker's
    log."""
    deadline = time.monotonic() + chain_seconds()
    step = step_claim(step_id=step_id, attempt=attempt)
    if step is None:
        return "not claimable (already claimed, finished, stale attempt, or paused)"
    outcomes: list[str] = []
    ran: list[DeploymentStep] = []
    while step is not None:
        result = _execute(step)
        recorded, following = _record(
            step=step, result=result, owner=WORKER, chain=time.monotonic() < deadline, ran=ran
        )
        outcomes.append(step.state if recorded else "result discarded (lease lost)")
        step = following
    if len(outcomes) > 1:
        logger.debug(
            "step %s ran with %d following step(s): %s", step_id, len(outcomes) - 1, outcomes
        )
    return outcomes[0]


def record_result(*, step: DeploymentStep, result: StepResult, owner: str | None = None) -> bool:
    """Record the result of the step's current attempt; move its target on. False when the
    attempt is no longer current (the lease expired and the step was retried)."""
    return _record(step=step, result=result, owner=owner, chain=False)[0]


def _record(
    *,
    step: DeploymentStep,
    result: StepResult,
    owner: str | None,
    chain: bool,
    ran: list[DeploymentStep] | None = None,
) -> tuple[bool, DeploymentStep | None]:
    """Record the result; with `chain`, also claim the target's next step for `owner` in the
    same transaction (instead of sending its message) and return it. `ran`: the steps of the
    target this task recorded before, in order (the recorded step is added)."""
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
            with_row=result.row,
        )
        if not moved:
            return False, None
        ran = [] if ran is None else ran
        ran.append(step)
        following = _after_step(
            step, ok=to_state != StepState.FAILED, chain_owner=owner if chain else None, ran=ran
        )
    return True, following


def _after_step(
    step: DeploymentStep,
    *,
    ok: bool,
    chain_owner: str | None = None,
    ran: list[DeploymentStep] | None = None,
) -> DeploymentStep | None:
    """Move the step's target on: its next step (claimed for `chain_owner` and returned, or
    dispatched), or finish it. The target is the one read with the claim: if it moved since
    (a backout), the version-checked moves below do nothing, and only a pending step is ever
    dispatched or claimed. `ran`: the steps of the target recorded by this task, in order."""
    target = step.target
    if "deployment" not in step._state.fields_cache:
        step.deployment = Deployment.objects.select_related("release").get(pk=step.deployment_id)
    target.deployment = step.deployment
    if target.state not in ACTIVE_TARGET:
        return None  # e.g. the step of a target being backed out as a whole: nothing more to do
    if not ok:
        _fail_target(target, reason=f"step {step.order} “{step.name}” failed")
        return None
    remote = executors.get(target.deployment.executor).is_remote
    wave_others = None
    if chain_owner is not None and not remote:
        following, pending, wave_others = _claim_next(target, owner=chain_owner)
        if following is not None:
            return following
    else:
        pending = _pending_step(target)
    if pending is not None:
        # Its message's age is this step's `finished_at` (the reconciler's redispatch rule).
        dispatch(target.deployment.executor, [pending])
        return None
    # Every step from the first recorded here: what they did is known without reading them.
    known = ran if ran and ran[0].order == 1 else None
    finish_target(target, wave_others=wave_others, steps=known)
    return None


def _fail_target(target: DeploymentTarget, *, reason: str) -> None:
    """The target failed; its later steps stay pending (a retry runs them, a backout skips
    them)."""
    transition(target, TargetState.FAILED, event=reason, updates={"finished_at": timezone.now()})
    after_target_finished(target)


def finish_target(
    target: DeploymentTarget,
    *,
    wave_others: int | None = None,
    steps: list[DeploymentStep] | None = None,
) -> None:
    """Every step of the target is done: mark it succeeded (or backed out) and record it in
    the CMDB, in the same transaction (a target that moved meanwhile writes nothing).
    `wave_others`: see `after_target_finished`; `steps`: all the target's steps as recorded,
    when the caller has them (else they are read)."""
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
        effects = cmdb_follow.effects_of(target.pk, steps=steps)
        if not transition(
            target,
            TargetState.SUCCEEDED,
            event="every step done; CMDB updated",
            updates={
                "finished_at": timezone.now(),
                "recorded_state": effects.recorded() if effects else {},
            },
        ):
            return
        cmdb_follow.follow_success(target.ci_id, number, effects)
    after_target_finished(target, wave_others=wave_others)


def after_target_finished(target: DeploymentTarget, *, wave_others: int | None = None) -> None:
    """After commit: when the wave has no active target left, advance the deployment (checked
    after our own commit, so the last of concurrent finishers always sees the others).

    `wave_others`, when known, is how many other targets of the wave were unfinished as this
    one finished (counted up to `sql.WAVE_OTHERS_COUNTED`, in the transaction that finishes
    it): none left, the deployment is advanced without asking again; as many as counted, it
    is not the last, and nothing is asked (the last of fewer than that many concurrent
    finishers sees fewer, and asks; the reconciler covers the rest)."""
    wave_id, deployment_id = target.wave_id, target.deployment_id
    if wave_others is not None and wave_others >= sql.WAVE_OTHERS_COUNTED:
        return

    def check() -> None:
        if wave_others == 0 or not (
            DeploymentTarget.objects.filter(wave_id=wave_id, state__in=TARGET_UNFINISHED).exists()
        ):
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
