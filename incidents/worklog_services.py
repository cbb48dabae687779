"""The work log of an incident: notes with the time spent, internal or public."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from cmdb.history import ChangeContext
from itsm.exceptions import ApplicationError, PermissionDeniedError

from .choices import WorkLogVisibility
from .models import Incident, WorkLogEntry

MAX_MINUTES = 24 * 60 * 7


@transaction.atomic
def worklog_add(
    *,
    context: ChangeContext,
    incident: Incident | int,
    note: str,
    minutes: int = 0,
    public: bool = False,
) -> WorkLogEntry:
    """Add a note to an incident. Staff (`incidents.change_incident`) write internal or
    public notes with the time spent; the caller (`incidents.report_incident`) writes public
    comments on their own incidents only. A public note by staff is the first response if
    none was given yet."""
    actor = context.actor
    staff = actor is None or actor.has_perm("incidents.change_incident")
    if not staff and not (actor is not None and actor.has_perm("incidents.report_incident")):
        raise PermissionDeniedError(
            "You do not have permission to do this (incidents.change_incident)."
        )
    if not (note or "").strip():
        raise ApplicationError("Write a note.", extra={"note": ["Required."]})
    try:
        minutes = int(minutes or 0)
    except (TypeError, ValueError):
        raise ApplicationError("Minutes must be a whole number.") from None
    if not 0 <= minutes <= MAX_MINUTES:
        raise ApplicationError(
            f"Minutes must be between 0 and {MAX_MINUTES}.", extra={"minutes": ["Out of range."]}
        )
    pk = incident.pk if isinstance(incident, Incident) else incident
    locked = Incident.objects.select_for_update(of=("self",)).filter(pk=pk).first()
    if locked is None:
        raise ApplicationError(f"Incident {pk} does not exist.")
    if not staff:
        if actor is None or locked.caller_id != actor.pk:
            raise PermissionDeniedError("You may only comment on incidents you reported.")
        public, minutes = True, 0
    entry = WorkLogEntry.objects.create(
        incident=locked,
        author=actor,
        author_name=context.actor_name,
        note=note.strip(),
        minutes=minutes,
        visibility=WorkLogVisibility.PUBLIC if public else WorkLogVisibility.INTERNAL,
        created=context.at or timezone.now(),
    )
    if staff and public and locked.responded_at is None and actor is not None:
        Incident.objects.filter(pk=locked.pk).update(responded_at=entry.created)
    return entry
