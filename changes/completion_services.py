"""Writes at the end of an RFC's life: implemented (by hand or by a release), the
post-implementation review, closing and cancelling, and events in its change log without a move
(what a release reports at each phase). Re-exported by `changes.services`; the shared helpers
(`lock_change`, `move`) are imported from there at call time, as in `cab_services`."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from incidents.models import Incident
from itsm.audit import ChangeContext, record
from itsm.exceptions import ApplicationError
from itsm.permissions import require_permission

from .choices import ChangeStatus, ReviewOutcome
from .models import Change


@transaction.atomic
def change_implement(*, context: ChangeContext, change: Change, note: str = "") -> Change:
    """Record an approved or scheduled RFC as implemented (by hand, or by a release)."""
    from .services import lock_change, move

    require_permission(context, "changes.implement_change")
    change = lock_change(change)
    change.implemented_at = timezone.now()
    return move(
        context=context,
        change=change,
        new=ChangeStatus.IMPLEMENTED,
        kind="implemented",
        changes={"note": note} if note else {},
        fields=["implemented_at"],
    )


@transaction.atomic
def change_review(
    *,
    context: ChangeContext,
    change: Change,
    outcome: str,
    notes: str = "",
    incidents: Iterable[Incident | int] = (),
) -> Change:
    """The post-implementation review: the outcome (successful, failed, backed out) and the
    incidents the change caused."""
    from .services import check_move, lock_change, move

    require_permission(context, "changes.implement_change")
    if outcome not in ReviewOutcome.values:
        raise ApplicationError(
            f"Unknown outcome {outcome!r}.", extra={"outcome": list(ReviewOutcome.values)}
        )
    change = lock_change(change)
    check_move(change, ChangeStatus.REVIEWED)
    ids = sorted({i.pk if isinstance(i, Incident) else int(i) for i in incidents})
    found = set(Incident.objects.filter(pk__in=ids).values_list("pk", flat=True))
    if len(found) != len(ids):
        raise ApplicationError("Unknown incidents.", extra={"incidents": sorted(set(ids) - found)})
    change.outcome, change.review_notes = outcome, notes
    if ids:
        change.caused_incidents.add(*ids)
    return move(
        context=context,
        change=change,
        new=ChangeStatus.REVIEWED,
        kind="reviewed",
        changes={
            "outcome": {"old": "", "new": outcome},
            "caused_incidents": {"added": ids, "removed": []},
        },
        fields=["outcome", "review_notes"],
    )


@transaction.atomic
def change_close(*, context: ChangeContext, change: Change, note: str = "") -> Change:
    """Close a reviewed RFC."""
    from .services import lock_change, move

    require_permission(context, "changes.manage_change")
    change = lock_change(change)
    change.closed_at = timezone.now()
    return move(
        context=context,
        change=change,
        new=ChangeStatus.CLOSED,
        kind="closed",
        changes={"note": note} if note else {},
        fields=["closed_at"],
    )


@transaction.atomic
def change_cancel(*, context: ChangeContext, change: Change, reason: str = "") -> Change:
    """Cancel an open RFC (originator or Change Manager)."""
    from .services import lock_change, move, require_originator_or_manager

    require_permission(context, "changes.add_change")
    change = lock_change(change)
    require_originator_or_manager(context, change)
    change.closed_at = timezone.now()
    return move(
        context=context,
        change=change,
        new=ChangeStatus.CANCELLED,
        kind="cancelled",
        changes={"reason": reason} if reason else {},
        fields=["closed_at"],
    )


@transaction.atomic
def change_log_event(
    *, context: ChangeContext, change: Change, message: str, data: dict | None = None
) -> None:
    """An event in the RFC's change log without a status move (e.g. a release's progress)."""
    require_permission(context, "changes.view_change")
    record(
        obj=change,
        kind="event",
        changes={"message": message, **({"data": data} if data else {})},
        context=context,
    )
