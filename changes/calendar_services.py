"""Scheduling an RFC on the change calendar, respecting blackout periods. Re-exported by
`changes.services`."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from itsm.audit import ChangeContext
from itsm.exceptions import ApplicationError, PermissionDeniedError
from itsm.permissions import require_permission

from . import selectors
from .choices import ChangeStatus
from .models import Change


@transaction.atomic
def change_schedule(
    *,
    context: ChangeContext,
    change: Change,
    start: dt.datetime,
    end: dt.datetime,
    override_reason: str = "",
    implementer=None,
) -> Change:
    """Put an approved (or reschedule a scheduled) RFC on the calendar for `start` to `end`.

    Inside a blackout that applies to its CIs the move is refused unless an override reason is
    given by someone holding `changes.override_blackout` (Change Manager). Conflicts with other
    changes do not block: callers show them (`selectors.conflicts_for`)."""
    from .services import lock_change, move

    require_permission(context, "changes.manage_change")
    if start is None or end is None:
        raise ApplicationError("Give the start and end of the window.")
    if timezone.is_naive(start) or timezone.is_naive(end):
        raise ApplicationError("Give the window with a time zone.")
    if end <= start:
        raise ApplicationError(
            "The planned end must be after the planned start.",
            extra={"end": ["The planned end must be after the planned start."]},
        )
    change = lock_change(change)
    if change.status not in (ChangeStatus.APPROVED, ChangeStatus.SCHEDULED):
        raise ApplicationError(
            f"Only an approved RFC is scheduled; this one is {change.status}.",
            extra={"status": change.status},
        )
    clashes = list(selectors.blackouts_for_change(change, start, end))
    override_reason = override_reason.strip()
    if clashes:
        names = [{"id": b.pk, "name": b.name, "start": b.start, "end": b.end} for b in clashes]
        if not override_reason:
            raise ApplicationError(
                "The window falls in a blackout period; give an override reason.",
                extra={"blackouts": [{**n, "start": n["start"].isoformat(),
                                      "end": n["end"].isoformat()} for n in names]},
            )  # fmt: skip
        actor = context.actor
        if actor is not None and not actor.has_perm("changes.override_blackout"):
            raise PermissionDeniedError(
                "Scheduling inside a blackout needs the Change Manager's override permission."
            )
    old = (change.planned_start, change.planned_end)
    change.planned_start, change.planned_end = start, end
    change.blackout_override_reason = override_reason if clashes else ""
    if implementer is not None:
        change.implementer = implementer
    move(
        context=context,
        change=change,
        new=ChangeStatus.SCHEDULED,
        kind="scheduled",
        changes={
            "planned_start": {"old": old[0] and old[0].isoformat(), "new": start.isoformat()},
            "planned_end": {"old": old[1] and old[1].isoformat(), "new": end.isoformat()},
            **(
                {
                    "blackout_override": {
                        "reason": override_reason,
                        "blackouts": [b.pk for b in clashes],
                    }
                }
                if clashes
                else {}
            ),
            **({"implementer": implementer.pk} if implementer is not None else {}),
        },
        fields=["planned_start", "planned_end", "blackout_override_reason", "implementer"],
    )
    from .notifications import notify_after_commit

    notify_after_commit(change.pk, "scheduled")
    return change
