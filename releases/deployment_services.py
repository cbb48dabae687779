"""Deployment control: deploy, pause, resume, cancel, wave sign-off (backout and retry:
`backout_services`). State moves go through `engine.transitions.transition`; the engine's
`advance` runs after commit."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from itsm.audit import ChangeContext, record
from itsm.exceptions import ApplicationError, ConflictError
from itsm.permissions import require_permission

from . import executors
from .choices import (
    DEPLOYMENT_ACTIVE,
    DeploymentStatus,
    ReadinessDecision,
    ReleaseStatus,
    StepState,
    WaveStatus,
)
from .engine import planning
from .engine.advance import advance_later
from .engine.transitions import log_event, transition, transition_many
from .models import (
    Deployment,
    DeploymentStep,
    DeploymentWave,
    ReadinessReview,
    Release,
)

__all__ = [
    "deployment_cancel",
    "deployment_pause",
    "deployment_resume",
    "deployment_start",
    "wave_sign_off",
]


def _after_commit(deployment_id: int) -> None:
    transaction.on_commit(lambda: advance_later(deployment_id))


def current_deployment(release: Release) -> Deployment | None:
    """The release's latest deployment."""
    return release.deployments.order_by("-created", "-id").first()


@transaction.atomic
def deployment_start(
    *,
    context: ChangeContext,
    release_id: int,
    executor: str = "agent",
    simulation: dict[str, Any] | None = None,
    waves: list[dict[str, Any]] | None = None,
) -> Deployment:
    """Start deploying a release: needs readiness "go", no deployment under way (409), a
    package with install steps, targets, and — for the pilot in production — the backout
    proven in a test environment. Plans the waves and targets; the engine starts the first."""
    require_permission(context, "releases.control_deployment")
    release = Release.objects.select_for_update().filter(pk=release_id).first()
    if release is None:
        raise ApplicationError("No such release.")
    if release.deployments.filter(status__in=DEPLOYMENT_ACTIVE).exists():
        raise ConflictError("A deployment of this release is already under way.")
    if release.status != ReleaseStatus.READINESS:
        raise ApplicationError(
            f"A release is deployed from readiness; this one is {release.get_status_display()}."
        )
    review = ReadinessReview.objects.filter(release=release).first()
    if review is None or review.decision != ReadinessDecision.GO:
        raise ApplicationError("Deployment needs a “go” from the Release Readiness Review.")
    from .readiness_services import backout_proven

    if not backout_proven(release):
        raise ApplicationError(
            "A pilot in production needs the backout procedure proven in a test environment "
            "(a passed test result marked as proving the backout)."
        )
    if not planning.install_steps(release):
        raise ApplicationError("The release package has no install step.")
    try:
        chosen = executors.get(executor)
    except KeyError:
        raise ApplicationError(
            f"Unknown executor “{executor}” (one of {', '.join(executors.names())})."
        ) from None
    params = chosen.check_params(simulation or {})
    plan = planning.check_wave_plan(waves if waves is not None else release.wave_plan or [])
    deployment = Deployment.objects.create(
        release=release,
        executor=chosen.name,
        simulation=params,
        created_by=context.actor,
        window_start=release.window_start,
        window_end=release.window_end,
    )
    count = planning.plan_waves(deployment=deployment, release=release, plan=plan)
    before = release.status
    release.status = ReleaseStatus.DEPLOYING
    release.version += 1
    release.save(update_fields=["status", "version", "updated"])
    note = f"Deployment {deployment.pk} started: {count} target(s), executor {chosen.name}"
    if params.get("simulated"):
        note += f" (SIMULATED: {params})"
    record(
        obj=release,
        kind="deployment",
        changes={
            "status": {"old": before, "new": release.status},
            "deployment": {"old": None, "new": deployment.pk},
            "executor": {"old": None, "new": chosen.name},
            "simulated": {"old": None, "new": bool(params.get("simulated"))},
        },
        context=context,
    )
    from .rfc_link import rfcs_log

    rfcs_log(release, f"Release {release.number}: {note}.", context=context)
    transition(
        deployment,
        DeploymentStatus.RUNNING,
        event=note,
        updates={"started_at": timezone.now()},
        data={"simulation": params} if params else None,
    )
    _after_commit(deployment.pk)
    return deployment


def _deployment_of(release_id: int) -> Deployment:
    deployment = (
        Deployment.objects.select_for_update()
        .filter(release_id=release_id)
        .order_by("-created", "-id")
        .first()
    )
    if deployment is None:
        raise ApplicationError("This release has no deployment.")
    return deployment


def _move(
    deployment: Deployment, to: str, *, context: ChangeContext, event: str, reason: str = ""
) -> Deployment:
    from .engine.transitions import check_move

    check_move(Deployment, deployment.status, to)
    if not transition(deployment, to, event=event, updates={"reason": reason}):
        raise ConflictError("The deployment moved on meanwhile; reload it.")
    record(
        obj=deployment.release,
        kind="deployment",
        changes={"deployment_status": {"old": None, "new": to}},
        context=context,
    )
    _after_commit(deployment.pk)
    return deployment


@transaction.atomic
def deployment_pause(*, context: ChangeContext, release_id: int, reason: str = "") -> Deployment:
    """Stop new claims; steps already running finish."""
    require_permission(context, "releases.control_deployment")
    deployment = _deployment_of(release_id)
    return _move(
        deployment,
        DeploymentStatus.PAUSED,
        context=context,
        event=f"paused by {context.actor_name}",
        reason=reason or f"Paused by {context.actor_name}.",
    )


@transaction.atomic
def deployment_resume(*, context: ChangeContext, release_id: int) -> Deployment:
    """Resume a paused or halted deployment (a halted wave is evaluated again)."""
    require_permission(context, "releases.control_deployment")
    deployment = _deployment_of(release_id)
    if deployment.status not in (DeploymentStatus.PAUSED, DeploymentStatus.HALTED):
        raise ApplicationError(
            f"Only a paused or halted deployment resumes (it is {deployment.status})."
        )
    backing_out = (
        DeploymentWave.objects.filter(deployment=deployment, status=WaveStatus.BACKED_OUT).count()
        == deployment.waves.count()
        and deployment.waves.exists()
    )
    to = (
        DeploymentStatus.BACKING_OUT
        if backing_out and deployment.status == DeploymentStatus.PAUSED
        else DeploymentStatus.RUNNING
    )
    for wave in DeploymentWave.objects.filter(deployment=deployment, status=WaveStatus.HALTED):
        transition(wave, WaveStatus.RUNNING, event=f"resumed by {context.actor_name}")
    return _move(deployment, to, context=context, event=f"resumed by {context.actor_name}")


@transaction.atomic
def deployment_cancel(*, context: ChangeContext, release_id: int) -> Deployment:
    """Cancel: no new step starts; waves not started are cancelled. What was deployed stays
    (back it out if needed). A deployment that changed nothing returns the release to
    readiness."""
    require_permission(context, "releases.control_deployment")
    deployment = _deployment_of(release_id)
    _move(
        deployment,
        DeploymentStatus.CANCELLED,
        context=context,
        event=f"cancelled by {context.actor_name}",
    )
    Deployment.objects.filter(pk=deployment.pk).update(finished_at=timezone.now())
    for status in (WaveStatus.PENDING, WaveStatus.RUNNING, WaveStatus.WAITING, WaveStatus.HALTED):
        transition_many(
            DeploymentWave,
            deployment.waves.filter(status=status).values_list("pk", flat=True),
            WaveStatus.CANCELLED,
            expected_from=status,
            deployment_id=deployment.pk,
            event="deployment cancelled",
        )
    touched = (
        DeploymentStep.objects.filter(deployment=deployment)
        .exclude(state=StepState.PENDING)
        .exists()
    )
    if not touched:
        release = Release.objects.select_for_update().get(pk=deployment.release_id)
        release.status = ReleaseStatus.READINESS
        release.version += 1
        release.save(update_fields=["status", "version", "updated"])
        record(
            obj=release,
            kind="status",
            changes={"status": {"old": ReleaseStatus.DEPLOYING, "new": ReleaseStatus.READINESS}},
            context=context,
        )
    return deployment


@transaction.atomic
def wave_sign_off(*, context: ChangeContext, wave_id: int, note: str = "") -> DeploymentWave:
    """A person opens a wave's gate (waiting on a manual gate, or halted: an override); the
    next wave starts."""
    require_permission(context, "releases.sign_off_wave")
    wave = (
        DeploymentWave.objects.select_for_update()
        .select_related("deployment")
        .filter(pk=wave_id)
        .first()
    )
    if wave is None:
        raise ApplicationError("No such wave.")
    if wave.status not in (WaveStatus.WAITING, WaveStatus.HALTED):
        raise ApplicationError(
            f"A wave is signed off when its targets are done (this one is {wave.status})."
        )
    transition(
        wave,
        WaveStatus.SUCCEEDED,
        event=f"signed off by {context.actor_name}" + (f": {note}" if note else ""),
        updates={"signed_off_by": context.actor, "signed_off_at": timezone.now()},
    )
    record(
        obj=wave.deployment.release,
        kind="sign_off",
        changes={"wave": {"old": None, "new": wave.name}},
        context=context,
    )
    _after_commit(wave.deployment_id)
    return wave


def deployment_note(deployment: Deployment, message: str) -> None:
    """A line in the deployment's event log."""
    log_event(deployment, "note", message)
