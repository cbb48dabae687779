"""Acceptance test results and the Release Readiness Review (checklist, go / no-go)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from itsm.audit import ChangeContext, record
from itsm.exceptions import ApplicationError, ConflictError
from itsm.permissions import require_permission

from .choices import ReadinessDecision, ReleaseStatus, TestEnvironment
from .models import ReadinessReview, Release, TestResult
from .rfc_link import changes_approved

__all__ = [
    "backout_proven",
    "readiness_decide",
    "readiness_get",
    "readiness_update",
    "test_result_record",
]


@transaction.atomic
def test_result_record(
    *,
    context: ChangeContext,
    release_id: int,
    name: str,
    passed: bool,
    environment: str = TestEnvironment.TEST,
    proves_backout: bool = False,
    notes: str = "",
) -> TestResult:
    """Record an acceptance test of the release (build, acceptance or readiness)."""
    require_permission(context, "releases.change_release")
    release = Release.objects.select_for_update().get(pk=release_id)
    if release.status not in (
        ReleaseStatus.BUILD,
        ReleaseStatus.ACCEPTANCE,
        ReleaseStatus.READINESS,
    ):
        raise ApplicationError("Test results are recorded in build, acceptance or readiness.")
    if environment not in TestEnvironment.values:
        raise ApplicationError("environment is test or production.")
    if not (name or "").strip():
        raise ApplicationError("A test result needs a name.", extra={"name": ["Required."]})
    if proves_backout and not passed:
        raise ApplicationError("A failed test proves nothing about the backout.")
    result = TestResult.objects.create(
        release=release,
        name=name.strip()[:200],
        environment=environment,
        passed=passed,
        proves_backout=proves_backout,
        notes=notes,
        recorded_by=context.actor,
    )
    record(
        obj=release,
        kind="test_result",
        changes={
            "test": {"old": None, "new": result.name},
            "passed": {"old": None, "new": passed},
            "proves_backout": {"old": None, "new": proves_backout},
        },
        context=context,
    )
    return result


def backout_proven(release: Release) -> bool:
    """The backout procedure was proven by a passed test in a test environment (needed for a
    pilot in production)."""
    return release.test_results.filter(
        passed=True, proves_backout=True, environment=TestEnvironment.TEST
    ).exists()


def readiness_get(release: Release) -> ReadinessReview:
    """The release's readiness review (created empty the first time)."""
    review, _ = ReadinessReview.objects.get_or_create(release=release)
    return review


@transaction.atomic
def readiness_update(
    *,
    context: ChangeContext,
    release_id: int,
    checklist: Mapping[str, Any],
    notes: str | None = None,
    expected_version: int | None = None,
) -> ReadinessReview:
    """Tick the checklist (a Release Manager). Any change clears an earlier decision."""
    require_permission(context, "releases.decide_readiness")
    release = Release.objects.select_for_update().get(pk=release_id)
    if release.status != ReleaseStatus.READINESS:
        raise ApplicationError("The readiness review is held while the release is in readiness.")
    review = readiness_get(release)
    if expected_version is not None and review.version != expected_version:
        raise ConflictError(
            "The review was changed by someone else; reload it.",
            extra={"current_version": review.version},
        )
    unknown = set(checklist) - set(ReadinessReview.CHECKLIST)
    if unknown:
        raise ApplicationError(f"Unknown checklist items: {', '.join(sorted(unknown))}.")
    changes: dict[str, Any] = {}
    for item, value in checklist.items():
        if not isinstance(value, bool):
            raise ApplicationError(f"{item} is true or false.", extra={item: ["A boolean."]})
        if getattr(review, item) != value:
            changes[item] = {"old": getattr(review, item), "new": value}
            setattr(review, item, value)
    if notes is not None and notes != review.notes:
        changes["notes"] = {"old": review.notes, "new": notes}
        review.notes = notes
    if not changes:
        return review
    if review.decision:
        changes["decision"] = {"old": review.decision, "new": ""}
        review.decision, review.decided_by, review.decided_at = "", None, None
    review.version += 1
    review.save()
    record(obj=release, kind="readiness", changes=changes, context=context)
    return review


@transaction.atomic
def readiness_decide(
    *, context: ChangeContext, release_id: int, decision: str, notes: str = ""
) -> ReadinessReview:
    """Record go or no-go (a Release Manager). Go needs every checklist item ticked and every
    RFC of the release approved."""
    require_permission(context, "releases.decide_readiness")
    release = Release.objects.select_for_update().get(pk=release_id)
    if release.status != ReleaseStatus.READINESS:
        raise ApplicationError("A go / no-go is decided while the release is in readiness.")
    if decision not in (ReadinessDecision.GO, ReadinessDecision.NO_GO):
        raise ApplicationError("decision is go or no_go.", extra={"decision": ["go or no_go."]})
    review = readiness_get(release)
    if decision == ReadinessDecision.GO:
        missing = [item for item in ReadinessReview.CHECKLIST if not getattr(review, item)]
        if missing:
            raise ApplicationError(
                f"Go needs every checklist item: missing {', '.join(missing)}.",
                extra={"missing": missing},
            )
        if not changes_approved(release):
            raise ApplicationError("Go needs every related RFC approved.")
    before = review.decision
    review.decision = decision
    review.decided_by, review.decided_at = context.actor, timezone.now()
    if notes:
        review.notes = notes
    review.version += 1
    review.save()
    record(
        obj=release,
        kind="readiness",
        changes={"decision": {"old": before, "new": decision}},
        context=context,
    )
    from .rfc_link import rfcs_log

    rfcs_log(release, f"Release {release.number}: readiness decision {decision}.", context=context)
    return review
