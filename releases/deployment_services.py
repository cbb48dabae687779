"""Deployment control: deploy, pause, resume, cancel, mark failed, a new window, wave sign-off
(backout and retry: `backout_services`). State moves go through `engine.transitions.transition`;
the engine's `advance` runs after commit."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from itsm.audit import ChangeContext, record
from itsm.exceptions import ApplicationError, ConflictError
from itsm.permissions import require_permission

from . import executors
from .choices import (
    DEPLOYMENT_ACTIVE,
    DEPLOYMENT_CANCELLABLE,
    DEPLOYMENT_FAILABLE,
    DeploymentStatus,
    ReadinessDecision,
    ReleaseStatus,
    TargetState,
    WaveStatus,
)
from .engine import planning
from .engine.advance import advance_later, settle_ended
from .engine.transitions import check_move, log_event, transition, transition_many
from .models import (
    Deployment,
    DeploymentEvent,
    DeploymentTarget,
    DeploymentWave,
    ReadinessReview,
    Release,
)

__all__ = [
    "deployment_cancel",
    "deployment_fail",
    "deployment_pause",
    "deployment_resume",
    "deployment_set_window",
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
    deployment: Deployment,
    to: str,
    *,
    context: ChangeContext,
    event: str,
    reason: str = "",
    updates: dict[str, Any] | None = None,
) -> Deployment:
    before = deployment.status
    check_move(Deployment, before, to)
    if not transition(deployment, to, event=event, updates={"reason": reason, **(updates or {})}):
        raise ConflictError("The deployment moved on meanwhile; reload it.")
    record(
        obj=deployment.release,
        kind="deployment",
        changes={"deployment_status": {"old": before, "new": to}},
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


def _resumes_to(deployment: Deployment) -> str:
    """Where a paused deployment goes on: backing out when it was backing out when paused (the
    event log says), else running (`advance` holds it again if it is outside its window)."""
    paused_from = (
        DeploymentEvent.objects.filter(
            deployment=deployment, object_type="deployment", to_state=DeploymentStatus.PAUSED
        )
        .order_by("-id")
        .values_list("from_state", flat=True)
        .first()
    )
    if deployment.status == DeploymentStatus.PAUSED and paused_from == DeploymentStatus.BACKING_OUT:
        return DeploymentStatus.BACKING_OUT
    return DeploymentStatus.RUNNING


@transaction.atomic
def deployment_resume(*, context: ChangeContext, release_id: int) -> Deployment:
    """Resume a paused or halted deployment (a halted wave is evaluated again). One outside its
    window resumes by itself; a person gives it a new window instead."""
    require_permission(context, "releases.control_deployment")
    deployment = _deployment_of(release_id)
    if deployment.status == DeploymentStatus.OUTSIDE_WINDOW:
        raise ApplicationError(
            f"This deployment is outside its window: {deployment.reason} To go on sooner, give "
            "it a new window.",
            extra={"status": deployment.status},
        )
    if deployment.status not in (DeploymentStatus.PAUSED, DeploymentStatus.HALTED):
        raise ApplicationError(
            f"Only a paused or halted deployment resumes (it is {deployment.status}).",
            extra={"status": deployment.status},
        )
    to = _resumes_to(deployment)
    for wave in DeploymentWave.objects.filter(deployment=deployment, status=WaveStatus.HALTED):
        transition(wave, WaveStatus.RUNNING, event=f"resumed by {context.actor_name}")
    return _move(deployment, to, context=context, event=f"resumed by {context.actor_name}")


def _changed_targets(deployment: Deployment) -> int:
    """Targets that hold (or may hold) changes of the deployment: started and not backed out
    or being backed out."""
    return (
        DeploymentTarget.objects.filter(deployment=deployment, steps__started_at__isnull=False)
        .exclude(state__in=(TargetState.BACKED_OUT, TargetState.BACKING_OUT))
        .distinct()
        .count()
    )


def _end(
    deployment: Deployment, to: str, *, context: ChangeContext, verb: str, reason: str
) -> Deployment:
    """End a deployment (cancelled or failed): waves not done cancelled, targets with nothing
    running settled (the others when their step is done). When nothing changed on any target
    the release goes back to readiness (after a failure with its "go" cleared); otherwise it
    stays as it is and the reason says how many targets to back out. Each RFC's change log
    says so."""
    from .rfc_link import rfcs_log

    said = f"{verb.capitalize()} by {context.actor_name}" + (f": {reason}" if reason else ".")
    _move(
        deployment,
        to,
        context=context,
        event=said,
        reason=said,
        updates={"finished_at": timezone.now()},
    )
    for status in (WaveStatus.PENDING, WaveStatus.RUNNING, WaveStatus.WAITING, WaveStatus.HALTED):
        transition_many(
            DeploymentWave,
            deployment.waves.filter(status=status).values_list("pk", flat=True),
            WaveStatus.CANCELLED,
            expected_from=status,
            deployment_id=deployment.pk,
            event=f"deployment {verb}",
        )
    held = settle_ended(deployment)["held"]
    release = Release.objects.select_for_update().get(pk=deployment.release_id)
    changed = _changed_targets(deployment) or held
    if not changed and release.status == ReleaseStatus.DEPLOYING:
        from .services import release_back_to_readiness

        release_back_to_readiness(
            context=context,
            release_id=release.pk,
            note=f"deployment {deployment.pk} {verb} by {context.actor_name}"
            + (f" ({reason})" if reason else "")
            + " before it changed any target",
            clear_decision=to == DeploymentStatus.FAILED,
        )
        return deployment
    if changed:
        left = (
            f"{said} {changed} target(s) were changed (or are finishing a step): back them out "
            "with “Back out release” (or each with its Back out button); the release stays "
            f"{release.get_status_display().lower()} until then."
        )
        Deployment.objects.filter(pk=deployment.pk).update(reason=left)
        deployment.reason = left
        rfcs_log(
            release,
            f"Release {release.number}: deployment {deployment.pk} {verb} by "
            f"{context.actor_name}{': ' + reason if reason else ''}; {changed} target(s) "
            "changed must be backed out.",
            context=context,
        )
    return deployment


@transaction.atomic
def deployment_cancel(*, context: ChangeContext, release_id: int, reason: str = "") -> Deployment:
    """Cancel (pending, running, outside its window, paused or halted): no new step starts,
    running steps finish, waves not done are cancelled, each target settles (never started:
    skipped; started: failed, to back out). Nothing changed anywhere: the release goes back to
    readiness on its "go" (it may be deployed again); otherwise it stays deploying until the
    changed targets are backed out."""
    require_permission(context, "releases.control_deployment")
    deployment = _deployment_of(release_id)
    if deployment.status not in DEPLOYMENT_CANCELLABLE:
        raise ApplicationError(
            f"A {deployment.get_status_display().lower()} deployment cannot be cancelled "
            "(only one pending, running, outside its window, paused or halted).",
            extra={"status": deployment.status},
        )
    return _end(
        deployment,
        DeploymentStatus.CANCELLED,
        context=context,
        verb="cancelled",
        reason=(reason or "").strip()[:1000],
    )


@transaction.atomic
def deployment_fail(*, context: ChangeContext, release_id: int, reason: str) -> Deployment:
    """Mark a halted or paused deployment failed (a Release Manager's verdict, with a reason:
    the engine itself only halts or pauses). It ends like a cancel: targets settle, the
    release goes back to readiness if nothing changed, else stays until the changed targets
    are backed out."""
    require_permission(context, "releases.control_deployment")
    reason = (reason or "").strip()[:1000]
    if not reason:
        raise ApplicationError(
            "Say why the deployment failed.", extra={"reason": ["A reason is required."]}
        )
    deployment = _deployment_of(release_id)
    if deployment.status not in DEPLOYMENT_FAILABLE:
        raise ApplicationError(
            "Only a halted or paused deployment is marked failed (this one is "
            f"{deployment.get_status_display().lower()}): pause it first, or cancel it.",
            extra={"status": deployment.status},
        )
    return _end(
        deployment, DeploymentStatus.FAILED, context=context, verb="marked failed", reason=reason
    )


#: A deployment in one of these still has a window that matters.
WINDOW_MATTERS = (
    DeploymentStatus.PENDING,
    DeploymentStatus.RUNNING,
    DeploymentStatus.OUTSIDE_WINDOW,
    DeploymentStatus.PAUSED,
    DeploymentStatus.HALTED,
)


@transaction.atomic
def deployment_set_window(
    *,
    context: ChangeContext,
    release_id: int,
    window_start: dt.datetime | None,
    window_end: dt.datetime | None,
    expected_window: tuple[dt.datetime | None, dt.datetime | None] | None = None,
) -> Deployment:
    """Give the deployment under way a new window (either end may be open), e.g. the next night
    after the window closed mid-wave: outside its window, it resumes by itself when the new one
    opens. The release keeps its planned window. With `expected_window` (the window the user
    saw), refused (409) when the window changed meanwhile: nothing is written."""
    require_permission(context, "releases.control_deployment")
    if window_start and window_end and window_end <= window_start:
        raise ApplicationError(
            "The deployment window ends after it starts.",
            extra={"window_end": ["After the start."]},
        )
    if window_end and window_end <= timezone.now():
        raise ApplicationError(
            "This window has already ended.", extra={"window_end": ["In the future."]}
        )
    deployment = _deployment_of(release_id)
    if deployment.status not in WINDOW_MATTERS:
        raise ApplicationError(
            f"The window of a {deployment.get_status_display().lower()} deployment no longer "
            "matters.",
            extra={"status": deployment.status},
        )
    before = (deployment.window_start, deployment.window_end)

    def shown(value: dt.datetime | None) -> str:
        return f"{timezone.localtime(value):%Y-%m-%d %H:%M}" if value else "open"

    if expected_window is not None and tuple(expected_window) != before:
        raise ConflictError(
            f"The deployment window was changed meanwhile: it is now {shown(before[0])} to "
            f"{shown(before[1])}. Look at it again before changing it.",
            extra={
                "window_start": before[0].isoformat() if before[0] else None,
                "window_end": before[1].isoformat() if before[1] else None,
            },
        )
    if before == (window_start, window_end):
        return deployment
    changed = Deployment.objects.filter(
        pk=deployment.pk, window_start=before[0], window_end=before[1]
    ).update(window_start=window_start, window_end=window_end, version=F("version") + 1)
    if not changed:
        raise ConflictError("The deployment window was changed meanwhile: look at it again.")
    deployment.refresh_from_db()

    said = (
        f"window set by {context.actor_name}: {shown(window_start)} to {shown(window_end)} "
        f"(was {shown(before[0])} to {shown(before[1])})"
    )
    log_event(deployment, "window", said)
    record(
        obj=deployment.release,
        kind="deployment",
        changes={
            "window_start": {"old": before[0], "new": window_start},
            "window_end": {"old": before[1], "new": window_end},
        },
        context=context,
    )
    from .rfc_link import rfcs_log

    release = deployment.release
    rfcs_log(release, f"Release {release.number}: deployment {said}.", context=context)
    _after_commit(deployment.pk)
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
