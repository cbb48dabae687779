"""Backout (a target, a wave, the whole release) and the retry of a failed or lost target.
The package's backout steps run on each target that started; the CMDB gets back what the target
held before (`engine.steps.finish_target` → `engine.cmdb_follow.restore_prior`). A Deployment
Technician retries or backs out only his targets (`technician_services.check_may_act`)."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from itsm.audit import ChangeContext, record
from itsm.exceptions import ApplicationError, ConflictError
from itsm.permissions import require_permission

from .choices import (
    DEPLOYMENT_ENDED,
    RELEASE_TRANSITIONS,
    DeploymentStatus,
    ReleaseStatus,
    StepPhase,
    StepState,
    TargetState,
    WaveStatus,
)
from .deployment_services import _after_commit, _deployment_of, _move
from .engine import planning
from .engine.steps import dispatch
from .engine.transitions import transition, transition_many
from .models import Deployment, DeploymentStep, DeploymentTarget, DeploymentWave
from .technician_services import check_may_act

__all__ = ["deployment_backout", "target_backout", "target_retry"]

#: An install or verify step retried now runs when the deployment is (or is resumed) running.
RETRY_INSTALL = (
    DeploymentStatus.RUNNING,
    DeploymentStatus.OUTSIDE_WINDOW,
    DeploymentStatus.PAUSED,
    DeploymentStatus.HALTED,
)


def _backout_targets(
    deployment: Deployment, targets: list[DeploymentTarget], context: ChangeContext
) -> int:
    """Move targets to backing out with the package's backout steps; targets never started
    are skipped. Returns how many will run backout steps."""
    steps = planning.backout_steps(deployment.release)
    started = 0
    first_steps: list[tuple[int, int]] = []
    ran = set(
        DeploymentStep.objects.filter(
            target_id__in=[t.pk for t in targets if t.state == TargetState.SKIPPED],
            started_at__isnull=False,
        ).values_list("target_id", flat=True)
    )
    for target in targets:
        if target.state == TargetState.PENDING:
            transition(target, TargetState.SKIPPED, event="backout: never started")
            continue
        if target.state == TargetState.SKIPPED and target.pk not in ran:
            continue  # never started: nothing to back out
        if target.state not in (
            TargetState.RUNNING,
            TargetState.SUCCEEDED,
            TargetState.FAILED,
            TargetState.LOST,
            TargetState.SKIPPED,
        ):
            continue
        if target.state == TargetState.RUNNING:
            # Only between steps: running steps finish first (their result changes nothing).
            target_from = TargetState.RUNNING
            if not transition(
                target, TargetState.FAILED, expected_from=target_from, event="stopped for backout"
            ):
                continue
        pending = DeploymentStep.objects.filter(target=target, state=StepState.PENDING).values_list(
            "pk", flat=True
        )
        transition_many(
            DeploymentStep,
            pending,
            StepState.SKIPPED,
            expected_from=StepState.PENDING,
            deployment_id=deployment.pk,
            event="backout requested",
        )
        last = DeploymentStep.objects.filter(target=target).aggregate(m=Max("order"))["m"] or 0
        rows = [
            DeploymentStep(
                deployment=deployment,
                target=target,
                order=last + i + 1,
                name=ps.name,
                phase=StepPhase.BACKOUT,
                module=ps.module,
                params=ps.params,
                condition=ps.condition,
                success_test=ps.success_test,
                artifact_id=ps.artifact_id,
                idempotent=ps.idempotent,
                dispatched_at=timezone.now() if i == 0 else None,
            )
            for i, ps in enumerate(steps)
        ]
        DeploymentStep.objects.bulk_create(rows)
        transition(
            target,
            TargetState.BACKING_OUT,
            event=f"backout requested by {context.actor_name}",
            updates={"finished_at": None},
        )
        started += 1
        if rows:
            first_steps.append((rows[0].pk, 1))
        else:
            from .engine.steps import finish_target

            target.deployment = deployment
            finish_target(target)
    dispatch(deployment.executor, first_steps)
    return started


@transaction.atomic
def deployment_backout(
    *,
    context: ChangeContext,
    release_id: int,
    wave_id: int | None = None,
    target_id: int | None = None,
) -> Deployment:
    """Back out the whole release, one wave, or one target: the package's backout steps run on
    each target that started, and the CMDB gets back what the target held before."""
    if target_id is not None:
        target_backout(context=context, target_id=target_id)
        return DeploymentTarget.objects.get(pk=target_id).deployment
    require_permission(context, "releases.control_deployment")
    deployment = _deployment_of(release_id)
    if deployment.status in (DeploymentStatus.BACKED_OUT, DeploymentStatus.BACKING_OUT):
        raise ConflictError("This deployment is already backed out or backing out.")
    if wave_id is not None:
        wave = (
            DeploymentWave.objects.select_for_update()
            .filter(pk=wave_id, deployment=deployment)
            .first()
        )
        if wave is None:
            raise ApplicationError("No such wave in this release's deployment.")
        from .engine.transitions import check_move

        check_move(DeploymentWave, wave.status, WaveStatus.BACKED_OUT)
        transition(wave, WaveStatus.BACKED_OUT, event=f"backout requested by {context.actor_name}")
        count = _backout_targets(deployment, list(wave.targets.select_for_update()), context)
        if deployment.status in (DeploymentStatus.RUNNING, DeploymentStatus.OUTSIDE_WINDOW):
            transition(
                deployment,
                DeploymentStatus.HALTED,
                event="a wave is being backed out",
                updates={"reason": f"Wave “{wave.name}” backed out: decide how to go on."},
            )
        record(
            obj=deployment.release,
            kind="backout",
            changes={
                "wave": {"old": None, "new": wave.name},
                "targets": {"old": None, "new": count},
            },
            context=context,
        )
        _after_commit(deployment.pk)
        return deployment
    release = deployment.release
    if ReleaseStatus.BACKED_OUT not in RELEASE_TRANSITIONS[release.status]:
        raise ApplicationError(
            "This release is back in readiness: its last deployment changed nothing, so there "
            "is nothing to back out."
            if release.status == ReleaseStatus.READINESS
            else f"A {release.get_status_display().lower()} release is no longer backed out.",
            extra={"status": release.status},
        )
    _move(
        deployment,
        DeploymentStatus.BACKING_OUT,
        context=context,
        event=f"backout of the whole release by {context.actor_name}",
    )
    for wave in deployment.waves.exclude(status=WaveStatus.BACKED_OUT):
        to = WaveStatus.CANCELLED if wave.status == WaveStatus.PENDING else WaveStatus.BACKED_OUT
        transition(wave, to, event="whole release backed out")
    _backout_targets(deployment, list(deployment.targets.select_for_update()), context)
    return deployment


@transaction.atomic
def target_backout(*, context: ChangeContext, target_id: int) -> DeploymentTarget:
    """Back out one target (a Release Manager, or a Deployment Technician on his targets:
    another's answers 403 and writes nothing)."""
    require_permission(context, "releases.change_deploymentstep")
    target = (
        DeploymentTarget.objects.select_for_update()
        .select_related("deployment__release")
        .filter(pk=target_id)
        .first()
    )
    if target is None:
        raise ApplicationError("No such target.")
    check_may_act(context, target, doing="back out")
    if target.state in (TargetState.BACKING_OUT, TargetState.BACKED_OUT):
        raise ConflictError(f"This target is already {target.state}.")
    never_started = (
        target.state == TargetState.SKIPPED
        and not target.steps.filter(started_at__isnull=False).exists()
    )
    if target.state == TargetState.PENDING or never_started:
        raise ApplicationError("This target has not started: there is nothing to back out.")
    _backout_targets(target.deployment, [target], context)
    record(
        obj=target.deployment.release,
        kind="backout",
        changes={"target": {"old": None, "new": target.ci_id}},
        context=context,
    )
    _after_commit(target.deployment_id)
    target.refresh_from_db()
    return target


@transaction.atomic
def target_retry(*, context: ChangeContext, target_id: int) -> DeploymentTarget:
    """Retry a failed or lost target from its failed or lost step (attempt + 1): a Release
    Manager, or a Deployment Technician on his targets (another's answers 403, nothing
    written)."""
    require_permission(context, "releases.change_deploymentstep")
    target = (
        DeploymentTarget.objects.select_for_update()
        .select_related("deployment")
        .filter(pk=target_id)
        .first()
    )
    if target is None:
        raise ApplicationError("No such target.")
    check_may_act(context, target, doing="retry")
    if target.state not in (TargetState.FAILED, TargetState.LOST):
        raise ApplicationError(
            f"Only a failed or lost target is retried (this one is {target.state})."
        )
    step = (
        DeploymentStep.objects.filter(target=target, state__in=(StepState.FAILED, StepState.LOST))
        .order_by("-order")
        .first()
    )
    if step is None:
        if target.deployment.status in DEPLOYMENT_ENDED:
            raise ApplicationError(
                f"The deployment is {target.deployment.get_status_display().lower()}: the rest "
                "of this target never runs. Back the target out instead.",
                extra={"status": target.deployment.status},
            )
        raise ApplicationError("Nothing to retry on this target.")
    backout = step.phase == StepPhase.BACKOUT
    status = target.deployment.status
    if (backout and status == DeploymentStatus.BACKED_OUT) or (
        not backout and status not in RETRY_INSTALL
    ):
        raise ApplicationError(
            f"The deployment is {target.deployment.get_status_display().lower()}: this step "
            "would never run again. Back the target out instead.",
            extra={"status": status},
        )
    transition(
        step,
        StepState.PENDING,
        event=f"retried by {context.actor_name} as attempt {step.attempt + 1}",
        updates={
            "attempt": step.attempt + 1,
            "lease_owner": "",
            "lease_expires_at": None,
            "dispatched_at": timezone.now(),
        },
    )
    transition(
        target,
        TargetState.BACKING_OUT if backout else TargetState.RUNNING,
        event=f"retried by {context.actor_name}",
        updates={"finished_at": None},
    )
    record(
        obj=target.deployment.release,
        kind="retry",
        changes={"target": {"old": None, "new": target.ci_id}},
        context=context,
    )
    dispatch(target.deployment.executor, [(step.pk, step.attempt)])
    _after_commit(target.deployment_id)
    return target
