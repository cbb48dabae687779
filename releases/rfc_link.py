"""The RFCs of a release: linking approved ones, and keeping their change logs and statuses in
step with the release through the changes app's services."""

from __future__ import annotations

import logging

from django.db import transaction

from itsm.audit import ChangeContext, record
from itsm.exceptions import ApplicationError
from itsm.permissions import require_permission

from .choices import ReleaseStatus
from .models import Release

logger = logging.getLogger(__name__)

#: RFC statuses that count as approved (scheduled comes after approval).
APPROVED = ("approved", "scheduled")


def linked_changes(release: Release) -> list:
    """The release's RFCs."""
    return list(release.changes.all())


def changes_approved(release: Release) -> bool:
    """Every RFC of the release is approved (or later), and there is at least one."""
    changes = linked_changes(release)
    return bool(changes) and all(c.status in (*APPROVED, "implemented") for c in changes)


@transaction.atomic
def release_add_change(*, context: ChangeContext, release_id: int, change_id: int) -> Release:
    """Link an approved RFC to a release in planning or build; anything else is refused (400)."""
    from changes.models import Change

    require_permission(context, "releases.change_release")
    release = Release.objects.select_for_update().filter(pk=release_id).first()
    if release is None:
        raise ApplicationError("No such release.")
    if release.status not in (ReleaseStatus.PLANNING, ReleaseStatus.BUILD):
        raise ApplicationError("RFCs are linked while the release is in planning or build.")
    change = Change.objects.filter(pk=change_id).first()
    if change is None:
        raise ApplicationError("No such RFC.", extra={"changes": [f"{change_id} does not exist."]})
    if change.status not in APPROVED:
        raise ApplicationError(
            f"Only approved RFCs go into a release; {change.number} is {change.status}.",
            extra={"changes": [f"{change.number} is not approved."]},
        )
    if release.changes.filter(pk=change.pk).exists():
        return release
    release.changes.add(change)
    record(obj=release, kind="changes", changes={"added": [change.number]}, context=context)
    _log(change, f"Added to release {release.number}.", context)
    return release


@transaction.atomic
def release_remove_change(*, context: ChangeContext, release_id: int, change_id: int) -> Release:
    """Unlink an RFC while the release is in planning or build."""
    require_permission(context, "releases.change_release")
    release = Release.objects.select_for_update().get(pk=release_id)
    if release.status not in (ReleaseStatus.PLANNING, ReleaseStatus.BUILD):
        raise ApplicationError("RFCs are unlinked while the release is in planning or build.")
    change = release.changes.filter(pk=change_id).first()
    if change is not None:
        release.changes.remove(change)
        record(obj=release, kind="changes", changes={"removed": [change.number]}, context=context)
        _log(change, f"Removed from release {release.number}.", context)
    return release


def _log(change, message: str, context: ChangeContext) -> None:
    from changes.services import change_log_event

    change_log_event(context=context, change=change, message=message)


def rfcs_log(release: Release, message: str, *, context: ChangeContext) -> None:
    """Write `message` into the change log of each RFC of the release."""
    for change in linked_changes(release):
        _log(change, message, context)


def rfcs_implemented(release: Release, *, context: ChangeContext) -> None:
    """The release is deployed: each RFC moves to implemented (an RFC that cannot is noted in
    its log instead, never stopping the release)."""
    from changes.services import change_implement

    for change in linked_changes(release):
        try:
            with transaction.atomic():
                change_implement(
                    context=context, change=change, note=f"Deployed by release {release.number}."
                )
        except ApplicationError as exc:
            _log(
                change, f"Release {release.number} deployed; RFC not moved: {exc.message}", context
            )


def rfcs_reviewed(release: Release, *, context: ChangeContext, outcome: str) -> None:
    """The release is closed: each RFC moves to review with the outcome (`successful`,
    `failed`, `backed_out`); an RFC of a backed-out release that never reached implemented is
    recorded as implemented (and backed out) first."""
    from changes.services import change_implement, change_review

    for change in linked_changes(release):
        try:
            with transaction.atomic():
                if outcome == "backed_out" and change.status in APPROVED:
                    change = change_implement(
                        context=context,
                        change=change,
                        note=f"Deployed by release {release.number}, then backed out.",
                    )
                if change.status != "implemented":
                    continue
                change_review(
                    context=context,
                    change=change,
                    outcome=outcome,
                    notes=f"Release {release.number} closed.",
                )
        except ApplicationError as exc:
            _log(
                change, f"Release {release.number} closed; RFC not reviewed: {exc.message}", context
            )
