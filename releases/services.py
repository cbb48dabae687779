"""Release workflow: create, edit, plan, and one service per move of its status. The library,
packages, acceptance and readiness, and deployment control have their own modules, re-exported
here."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.db import transaction

from itsm.audit import ChangeContext, record
from itsm.choices import ChangeSource
from itsm.exceptions import ApplicationError, ConflictError
from itsm.numbering import next_number
from itsm.permissions import require_permission

from .choices import RELEASE_TRANSITIONS, ReleaseStatus
from .models import NUMBER_PREFIX, NUMBER_SEQUENCE, Release, ReleaseTask
from .rfc_link import (  # noqa: F401 (re-exported)
    release_add_change,
    release_remove_change,
    rfcs_implemented,
    rfcs_log,
    rfcs_reviewed,
)

EDITABLE_FIELDS = (
    "title",
    "description",
    "release_type",
    "priority",
    "package",
    "training",
    "support",
    "communication",
    "logistics",
    "target_filter",
    "wave_plan",
    "window_start",
    "window_end",
)
#: Fields that can no longer change once the release is being deployed.
FROZEN_FROM = (
    ReleaseStatus.DEPLOYING,
    ReleaseStatus.DEPLOYED,
    ReleaseStatus.BACKED_OUT,
    ReleaseStatus.CLOSED,
)


def _clean(data: Mapping[str, Any]) -> dict[str, Any]:
    from .engine.planning import check_wave_plan, resolve_filter

    values = dict(data)
    unknown = set(values) - set(EDITABLE_FIELDS)
    if unknown:
        raise ApplicationError(f"These fields cannot be set here: {', '.join(sorted(unknown))}.")
    if "target_filter" in values:
        resolve_filter(values["target_filter"] or {})
    if "wave_plan" in values:
        values["wave_plan"] = check_wave_plan(values["wave_plan"] or [])
    start, end = values.get("window_start"), values.get("window_end")
    if start and end and end <= start:
        raise ApplicationError("The deployment window ends after it starts.")
    return values


@transaction.atomic
def release_create(*, context: ChangeContext, title: str, **data: Any) -> Release:
    """Open a release in planning, numbered REL-000001… from the database sequence."""
    require_permission(context, "releases.add_release")
    if not (title or "").strip():
        raise ApplicationError("A release needs a title.", extra={"title": ["Required."]})
    values = _clean(data)
    release = Release(
        number=next_number(NUMBER_SEQUENCE, NUMBER_PREFIX),
        title=title.strip()[:200],
        created_by=context.actor,
        **values,
    )
    release.full_clean(exclude=["package", "number"])
    release.save()
    record(
        obj=release,
        kind="created",
        changes={"title": {"old": None, "new": release.title}},
        context=context,
    )
    return release


def _lock(release_id: int) -> Release:
    release = Release.objects.select_for_update().filter(pk=release_id).first()
    if release is None:
        raise ApplicationError("No such release.")
    return release


@transaction.atomic
def release_update(
    *,
    context: ChangeContext,
    release_id: int,
    data: Mapping[str, Any],
    expected_version: int | None = None,
) -> Release:
    """Change a release's plan, strategy, targets, package (409 on a stale version; frozen once
    deploying)."""
    require_permission(context, "releases.change_release")
    release = _lock(release_id)
    if expected_version is not None and release.version != expected_version:
        raise ConflictError(
            "The release was changed by someone else; reload it.",
            extra={"current_version": release.version},
        )
    if release.status in FROZEN_FROM:
        raise ApplicationError(
            f"A release that is {release.get_status_display()} cannot be edited."
        )
    values = _clean(data)
    changes = {}
    for field, value in values.items():
        old = getattr(release, f"{field}_id" if field == "package" else field)
        new = value.pk if field == "package" and value is not None else value
        if old != new:
            changes[field] = {"old": old, "new": new}
            setattr(release, field, value)
    if not changes:
        return release
    release.version += 1
    release.full_clean(exclude=["number"])
    release.save()
    record(obj=release, kind="updated", changes=changes, context=context)
    return release


@transaction.atomic
def release_task_add(
    *,
    context: ChangeContext,
    release_id: int,
    title: str,
    owner=None,
    due=None,
    resources: str = "",
) -> ReleaseTask:
    """Add a task to the release's plan."""
    require_permission(context, "releases.change_release")
    release = _lock(release_id)
    if release.status in FROZEN_FROM:
        raise ApplicationError("The plan of a release being deployed cannot change.")
    task = ReleaseTask.objects.create(
        release=release, title=title[:200], owner=owner, due=due, resources=resources
    )
    record(obj=release, kind="task", changes={"added": [task.title]}, context=context)
    return task


@transaction.atomic
def release_task_done(*, context: ChangeContext, task_id: int, done: bool = True) -> ReleaseTask:
    """Tick (or untick) a plan task."""
    require_permission(context, "releases.change_release")
    task = ReleaseTask.objects.select_for_update().get(pk=task_id)
    if task.done != done:
        task.done = done
        task.save(update_fields=["done"])
        record(
            obj=task.release,
            kind="task",
            changes={task.title: {"old": not done, "new": done}},
            context=context,
        )
    return task


# --- moves ---------------------------------------------------------------------------------


@transaction.atomic
def _move(
    *,
    context: ChangeContext,
    release_id: int,
    to_status: str,
    check: Callable[[Release], None] | None = None,
    perm: str = "releases.change_release",
    from_statuses: tuple[str, ...] | None = None,
) -> Release:
    require_permission(context, perm)
    release = _lock(release_id)
    if to_status not in RELEASE_TRANSITIONS[release.status] or (
        from_statuses is not None and release.status not in from_statuses
    ):
        allowed = ", ".join(sorted(RELEASE_TRANSITIONS[release.status])) or "none"
        raise ApplicationError(
            f"A release cannot move from {release.status} to {to_status} (allowed: {allowed}).",
            extra={
                "status": release.status,
                "allowed": sorted(RELEASE_TRANSITIONS[release.status]),
            },
        )
    if check:
        check(release)
    before = release.status
    release.status = to_status
    release.version += 1
    release.save(update_fields=["status", "version", "updated"])
    record(
        obj=release,
        kind="status",
        changes={"status": {"old": before, "new": to_status}},
        context=context,
    )
    rfcs_log(release, f"Release {release.number}: {before} → {to_status}.", context=context)
    return release


def _check_build(release: Release) -> None:
    from .rfc_link import linked_changes

    if not linked_changes(release):
        raise ApplicationError("Link at least one approved RFC to the release first.")


def _check_acceptance(release: Release) -> None:
    if release.package_id is None:
        raise ApplicationError("Choose the release package before acceptance.")
    from .engine.planning import install_steps

    if not install_steps(release):
        raise ApplicationError("The release package has no install step.")


def _check_readiness(release: Release) -> None:
    if not release.test_results.filter(passed=True).exists():
        raise ApplicationError("Record at least one passed acceptance test first.")
    if (
        release.test_results.filter(passed=False)
        .exclude(name__in=release.test_results.filter(passed=True).values("name"))
        .exists()
    ):
        raise ApplicationError("An acceptance test failed and has not passed since.")


def release_to_build(*, context: ChangeContext, release_id: int) -> Release:
    """planning → build: the RFCs are linked."""
    return _move(
        context=context,
        release_id=release_id,
        to_status=ReleaseStatus.BUILD,
        check=_check_build,
        from_statuses=(ReleaseStatus.PLANNING,),
    )


def release_to_planning(*, context: ChangeContext, release_id: int) -> Release:
    """build → planning."""
    return _move(context=context, release_id=release_id, to_status=ReleaseStatus.PLANNING)


def release_to_acceptance(*, context: ChangeContext, release_id: int) -> Release:
    """build → acceptance: the package is chosen and has install steps."""
    return _move(
        context=context,
        release_id=release_id,
        to_status=ReleaseStatus.ACCEPTANCE,
        check=_check_acceptance,
    )


def release_to_readiness(*, context: ChangeContext, release_id: int) -> Release:
    """acceptance → readiness: the acceptance tests passed."""
    return _move(
        context=context,
        release_id=release_id,
        to_status=ReleaseStatus.READINESS,
        check=_check_readiness,
    )


def release_back_to_build(*, context: ChangeContext, release_id: int) -> Release:
    """acceptance or readiness → build (a failed test, a no-go)."""
    return _move(
        context=context,
        release_id=release_id,
        to_status=ReleaseStatus.BUILD,
        from_statuses=(ReleaseStatus.ACCEPTANCE, ReleaseStatus.READINESS),
    )


@transaction.atomic
def release_close(*, context: ChangeContext, release_id: int) -> Release:
    """deployed, backed out (or an abandoned plan) → closed; the RFCs go to review with the
    outcome (successful, backed out, or failed when it never deployed)."""
    before = Release.objects.values_list("status", flat=True).get(pk=release_id)
    release = _move(context=context, release_id=release_id, to_status=ReleaseStatus.CLOSED)
    outcomes: dict[str, str] = {
        ReleaseStatus.DEPLOYED.value: "successful",
        ReleaseStatus.BACKED_OUT.value: "backed_out",
    }
    outcome = outcomes.get(str(before), "failed")
    if before != ReleaseStatus.PLANNING:
        rfcs_reviewed(release, context=context, outcome=outcome)
    return release


def _check_nothing_changed(release: Release) -> None:
    from .choices import DEPLOYMENT_ENDED

    deployment = release.deployments.order_by("-created", "-id").first()
    if deployment is None or deployment.status not in DEPLOYMENT_ENDED:
        raise ApplicationError(
            "A release goes back to readiness when its deployment was cancelled or failed."
        )
    if deployment.steps.filter(started_at__isnull=False).exists():
        raise ApplicationError(
            "Its deployment changed targets: back them out (the release is then backed out)."
        )


@transaction.atomic
def release_back_to_readiness(
    *, context: ChangeContext, release_id: int, note: str = "", clear_decision: bool = False
) -> Release:
    """deploying → readiness: its deployment was cancelled or marked failed before it changed
    any target. After a cancel the "go" stands (it may be deployed again); after a failure
    (`clear_decision`) the decision is cleared: deploying again needs a new "go"."""
    from .models import ReadinessReview

    release = _move(
        context=context,
        release_id=release_id,
        to_status=ReleaseStatus.READINESS,
        check=_check_nothing_changed,
        perm="releases.control_deployment",
        from_statuses=(ReleaseStatus.DEPLOYING,),
    )
    review = ReadinessReview.objects.select_for_update().filter(release=release).first()
    if clear_decision and review is not None and review.decision:
        record(
            obj=release,
            kind="readiness",
            changes={"decision": {"old": review.decision, "new": ""}},
            context=context,
        )
        review.decision, review.decided_by, review.decided_at = "", None, None
        review.version += 1
        review.save()
    then = (
        "a new “go” is needed to deploy it again"
        if clear_decision
        else "it may be deployed again on its “go”"
    )
    rfcs_log(
        release,
        f"Release {release.number}: {note or 'back to readiness'}; {then}.",
        context=context,
    )
    return release


def _system(release: Release, reason: str) -> ChangeContext:
    return ChangeContext(
        actor=None, source=ChangeSource.RELEASE, source_ref=release.number, reason=reason
    )


@transaction.atomic
def release_deployed(*, release_id: int) -> Release | None:
    """deploying → deployed (by the engine when every wave succeeded); the RFCs are
    implemented."""
    release = Release.objects.get(pk=release_id)
    if release.status != ReleaseStatus.DEPLOYING:
        return None
    context = _system(release, "Every wave of the deployment succeeded.")
    release = _move(context=context, release_id=release_id, to_status=ReleaseStatus.DEPLOYED)
    rfcs_implemented(release, context=context)
    return release


@transaction.atomic
def release_backed_out(*, release_id: int) -> Release | None:
    """deploying or deployed → backed out (by the engine when the whole backout finished)."""
    release = Release.objects.get(pk=release_id)
    if ReleaseStatus.BACKED_OUT not in RELEASE_TRANSITIONS[release.status]:
        return None
    context = _system(release, "The release was backed out.")
    return _move(context=context, release_id=release_id, to_status=ReleaseStatus.BACKED_OUT)


from .backout_services import *  # noqa: E402, F403
from .deployment_services import *  # noqa: E402, F403
from .library_services import *  # noqa: E402, F403
from .readiness_services import *  # noqa: E402, F403
from .technician_services import *  # noqa: E402, F403
