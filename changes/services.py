"""Writes of change management: the RFC and its workflow, one service per move.

Every service takes keyword-only arguments and a `ChangeContext`, checks the permission first,
locks the RFC (`select_for_update`), checks the move against `choices.CHANGE_TRANSITIONS`,
saves, and writes the RFC's change log (`itsm.audit.record`), in one transaction. Votes, CAB
meetings and approval routing are in `cab_services`; scheduling and blackouts in
`calendar_services`; implementation, review, closing, cancelling and log events in
`completion_services`; the catalogue (templates, blackouts, bodies) in `catalogue_services`.
All are re-exported here.

Who may do what: Service Desk and Change Manager raise RFCs (`changes.add_change`); the
originator edits, submits, resubmits and cancels their own RFC, a Change Manager
(`changes.manage_change`) anyone's; CAB members vote (`changes.vote_change`); Change Managers
schedule; Change and Release Managers record implementation and review
(`changes.implement_change`); Change Managers close.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from cmdb.models import ConfigurationItem
from itsm.audit import ChangeContext, record
from itsm.exceptions import ApplicationError, ConflictError, PermissionDeniedError
from itsm.numbering import next_number
from itsm.permissions import require_permission

from . import impact as impact_module
from .choices import (
    CHANGE_TRANSITIONS,
    ChangeStatus,
    ChangeType,
)
from .models import (
    NUMBER_PREFIX,
    NUMBER_SEQUENCE,
    Change,
    ChangeAttachment,
    StandardChangeTemplate,
)

#: Fields a requester sets on a draft (and while information is requested).
EDITABLE_FIELDS = (
    "title",
    "description",
    "implementation_plan",
    "backout_plan",
    "change_type",
    "category",
    "reason",
    "priority",
    "estimated_hours",
    "resources",
    "planned_start",
    "planned_end",
    "technical_assessment",
    "template",
)
#: Statuses in which the requester may still edit the RFC.
EDITABLE_STATUSES = frozenset({ChangeStatus.DRAFT, ChangeStatus.INFO_REQUESTED})


# --- helpers ------------------------------------------------------------------------------


def lock_change(change: Change | int, *, expected_version: int | None = None) -> Change:
    """The RFC, locked for this transaction; a stale `expected_version` is a 409."""
    pk = change.pk if isinstance(change, Change) else change
    try:
        locked = Change.objects.select_for_update().get(pk=pk)
    except Change.DoesNotExist as exc:
        raise ApplicationError("No such RFC.") from exc
    if expected_version is not None and locked.version != expected_version:
        raise ConflictError(
            "The RFC was changed by someone else; reload it.",
            extra={"current_version": locked.version},
        )
    return locked


def check_move(change: Change, new: str) -> None:
    """Refuse a move the workflow does not allow from the RFC's status (400, with why)."""
    if new not in CHANGE_TRANSITIONS.get(change.status, frozenset()):
        allowed = sorted(CHANGE_TRANSITIONS.get(change.status, frozenset()))
        raise ApplicationError(
            f"An RFC that is {change.get_status_display().lower()} cannot move to {new}.",
            extra={"status": change.status, "allowed": allowed},
        )


def move(
    *,
    context: ChangeContext,
    change: Change,
    new: str,
    kind: str,
    changes: dict[str, Any] | None = None,
    fields: Iterable[str] = (),
) -> Change:
    """Move a locked RFC to `new` (checked), save the named `fields` with it, log `kind`."""
    check_move(change, new)
    old = change.status
    change.status = new
    change.version += 1
    change.save(update_fields=["status", "version", "updated", *fields])
    record(
        obj=change,
        kind=kind,
        changes={"status": {"old": old, "new": new}, **(changes or {})},
        context=context,
    )
    return change


def require_originator_or_manager(context: ChangeContext, change: Change) -> None:
    """Only the originator or a Change Manager acts on a requester's RFC."""
    actor = context.actor
    if actor is None or actor.pk == change.originator_id:
        return
    if not actor.has_perm("changes.manage_change"):
        raise PermissionDeniedError("Only the originator or a Change Manager may do this.")


def _check_window(start: dt.datetime | None, end: dt.datetime | None) -> None:
    if start is not None and end is not None and end <= start:
        raise ApplicationError(
            "The planned end must be after the planned start.",
            extra={"planned_end": ["The planned end must be after the planned start."]},
        )


def _json(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "pk"):
        return value.pk
    return value


def _notify(change: Change, event: str) -> None:
    from .notifications import notify_after_commit

    notify_after_commit(change.pk, event)


# --- the RFC itself -----------------------------------------------------------------------


@transaction.atomic
def change_create(
    *,
    context: ChangeContext,
    title: str,
    cis: Iterable[ConfigurationItem] = (),
    originator=None,
    **fields: Any,
) -> Change:
    """Raise a draft RFC (number from the `changes_change_number` sequence)."""
    require_permission(context, "changes.add_change")
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ApplicationError(f"Unknown fields: {', '.join(sorted(unknown))}.")
    originator = originator or context.actor
    if originator is None:
        raise ApplicationError("An RFC needs an originator.")
    _check_window(fields.get("planned_start"), fields.get("planned_end"))
    template: StandardChangeTemplate | None = fields.get("template")
    if template is not None:
        for name in ("implementation_plan", "backout_plan", "estimated_hours", "category"):
            if not fields.get(name):
                fields[name] = getattr(template, name)
    change = Change(
        number=next_number(NUMBER_SEQUENCE, NUMBER_PREFIX),
        title=title,
        originator=originator,
        **fields,
    )
    try:
        change.full_clean(exclude=["number"])
    except ValidationError as exc:
        raise ApplicationError("The RFC is not valid.", extra=exc.message_dict) from exc
    change.save()
    ci_list = list(cis)
    change.cis.set(ci_list)
    record(
        obj=change,
        kind="created",
        changes={
            **{name: {"old": None, "new": _json(fields[name])} for name in fields},
            "title": {"old": None, "new": title},
            "cis": {"added": sorted(ci.pk for ci in ci_list), "removed": []},
        },
        context=context,
    )
    return change


@transaction.atomic
def change_update(
    *,
    context: ChangeContext,
    change: Change,
    data: Mapping[str, Any],
    cis: Iterable[ConfigurationItem] | None = None,
    expected_version: int | None = None,
) -> Change:
    """Edit a draft (or an RFC returned for information). A stale version answers 409."""
    require_permission(context, "changes.change_change")
    change = lock_change(change, expected_version=expected_version)
    require_originator_or_manager(context, change)
    if change.status not in EDITABLE_STATUSES:
        raise ApplicationError(
            "Only a draft, or an RFC returned for information, can be edited.",
            extra={"status": change.status},
        )
    unknown = set(data) - set(EDITABLE_FIELDS)
    if unknown:
        raise ApplicationError(f"Unknown or read-only fields: {', '.join(sorted(unknown))}.")
    changes: dict[str, Any] = {}
    for name, value in data.items():
        old = getattr(change, name)
        if old != value:
            changes[name] = {"old": _json(old), "new": _json(value)}
            setattr(change, name, value)
    _check_window(change.planned_start, change.planned_end)
    try:
        change.full_clean(exclude=["number"])
    except ValidationError as exc:
        raise ApplicationError("The RFC is not valid.", extra=exc.message_dict) from exc
    if cis is not None:
        new_ids = {ci.pk for ci in cis}
        old_ids = set(change.cis.values_list("pk", flat=True))
        if new_ids != old_ids:
            change.cis.set(list(new_ids))
            changes["cis"] = {
                "added": sorted(new_ids - old_ids),
                "removed": sorted(old_ids - new_ids),
            }
    if changes:
        change.version += 1
        change.save()
        record(obj=change, kind="updated", changes=changes, context=context)
    return change


@transaction.atomic
def change_delete(*, context: ChangeContext, change: Change) -> None:
    """Delete a draft (its log stays in the audit table)."""
    require_permission(context, "changes.delete_change")
    change = lock_change(change)
    require_originator_or_manager(context, change)
    if change.status != ChangeStatus.DRAFT:
        raise ApplicationError("Only a draft is deleted; cancel a submitted RFC instead.")
    record(obj=change, kind="deleted", changes={}, context=context)
    change.delete()


@transaction.atomic
def change_attach(
    *, context: ChangeContext, change: Change, file: UploadedFile, name: str = ""
) -> ChangeAttachment:
    """Attach a file to an RFC that is not finished (kept in Django's storage)."""
    require_permission(context, "changes.change_change")
    change = lock_change(change)
    require_originator_or_manager(context, change)
    if change.status in (ChangeStatus.CLOSED, ChangeStatus.CANCELLED, ChangeStatus.REJECTED):
        raise ApplicationError("Files cannot be attached to a finished RFC.")
    attachment = ChangeAttachment.objects.create(
        change=change,
        file=file,
        name=(name or getattr(file, "name", "") or "attachment")[:200],
        uploaded_by=context.actor,
    )
    record(
        obj=change,
        kind="attachment",
        changes={"attachments": {"added": [attachment.name], "removed": []}},
        context=context,
    )
    return attachment


@transaction.atomic
def change_impact_refresh(*, context: ChangeContext, change: Change) -> Change:
    """Recompute and store the RFC's ripple set and risk (at submit, or on demand)."""
    require_permission(context, "changes.change_change")
    change = lock_change(change)
    _store_impact(context=context, change=change)
    return change


def _store_impact(*, context: ChangeContext, change: Change) -> None:
    """Compute the ripple set and risk of a locked RFC and store them, logging what moved."""
    ci_ids = list(change.cis.order_by().values_list("pk", flat=True))
    ripple = impact_module.store_ripple(change.pk, ci_ids)
    risk = impact_module.assess_risk(
        ci_ids=ci_ids,
        ripple_set=ripple,
        change_type=change.change_type,
        exclude_change_id=change.pk,
    )
    old = (change.risk_score, change.risk)
    change.risk_score, change.risk, change.risk_reasons = risk.score, risk.level, risk.reasons
    change.impact_computed_at = timezone.now()
    change.save(update_fields=["risk_score", "risk", "risk_reasons", "impact_computed_at"])
    record(
        obj=change,
        kind="impact",
        changes={
            "risk_score": {"old": old[0], "new": risk.score},
            "risk": {"old": old[1], "new": risk.level},
            "impact": {
                "cis": len(ripple.depths),
                "business_services": len(ripple.business_services),
            },
        },
        context=context,
    )


@transaction.atomic
def change_submit(*, context: ChangeContext, change: Change) -> Change:
    """Submit a draft: plans checked, impact and risk computed and stored, the approval rule
    applied — a standard change from the catalogue is approved at once, anything else waits
    for the body the rule names (notified after commit)."""
    require_permission(context, "changes.add_change")
    change = lock_change(change)
    require_originator_or_manager(context, change)
    check_move(change, ChangeStatus.SUBMITTED)
    if change.status != ChangeStatus.DRAFT:
        raise ApplicationError("Only a draft is submitted; answer a request with resubmit.")
    return _submit(context=context, change=change, kind="submitted")


@transaction.atomic
def change_resubmit(*, context: ChangeContext, change: Change, comment: str = "") -> Change:
    """Send an RFC back to its approvers after answering their request for information; a
    new voting round starts."""
    require_permission(context, "changes.add_change")
    change = lock_change(change)
    require_originator_or_manager(context, change)
    check_move(change, ChangeStatus.SUBMITTED)
    if change.status != ChangeStatus.INFO_REQUESTED:
        raise ApplicationError("Only an RFC returned for information is resubmitted.")
    change.vote_round += 1
    return _submit(context=context, change=change, kind="resubmitted", extra={"comment": comment})


def _submit(
    *, context: ChangeContext, change: Change, kind: str, extra: dict | None = None
) -> Change:
    from .cab_services import route_for_approval

    _check_submittable(change)
    _store_impact(context=context, change=change)
    route = route_for_approval(change)
    change.approver = route.approver
    change.approval_body = route.body
    change.approval_rule = route.rule
    change.submitted_at = timezone.now()
    move(
        context=context,
        change=change,
        new=ChangeStatus.SUBMITTED,
        kind=kind,
        changes={
            "approver": {"old": None, "new": route.approver},
            "approval_body": {"old": None, "new": route.body.pk if route.body else None},
            "rule": route.rule.name if route.rule else "",
            **(extra or {}),
        },
        fields=[
            "approver",
            "approval_body",
            "approval_rule",
            "submitted_at",
            "vote_round",
        ],
    )
    if route.pre_approved:
        change.decided_at = timezone.now()
        move(
            context=context,
            change=change,
            new=ChangeStatus.APPROVED,
            kind="approved",
            changes={"reason": "pre-approved standard change from the catalogue"},
            fields=["decided_at"],
        )
        _notify(change, "decided")
    else:
        _notify(change, "submitted")
    return change


def _check_submittable(change: Change) -> None:
    errors: dict[str, list[str]] = {}
    if change.change_type in (ChangeType.NORMAL, ChangeType.EMERGENCY):
        for name in ("implementation_plan", "backout_plan"):
            if not getattr(change, name).strip():
                errors[name] = [f"A {change.change_type} change needs this plan."]
    if change.change_type == ChangeType.STANDARD:
        if change.template is None:
            errors["template"] = ["A standard change must come from a catalogue template."]
        elif not change.template.active:
            errors["template"] = ["This template is no longer in the catalogue."]
    if not change.cis.exists():
        errors["cis"] = ["Name at least one CI to change."]
    if errors:
        raise ApplicationError("The RFC cannot be submitted yet.", extra=errors)


# Re-exports: every write of the app is reachable from here.
from .cab_services import (  # noqa: E402
    cab_meeting_add_item,
    cab_meeting_create,
    cab_meeting_record_decision,
    cab_meeting_record_minutes,
    change_approve,
    change_reject,
    change_request_info,
    change_vote,
)
from .calendar_services import change_schedule  # noqa: E402
from .catalogue_services import (  # noqa: E402
    blackout_create,
    blackout_delete,
    blackout_update,
    template_create,
    template_delete,
    template_update,
)
from .completion_services import (  # noqa: E402
    change_cancel,
    change_close,
    change_implement,
    change_log_event,
    change_review,
)

__all__ = [
    "blackout_create",
    "blackout_delete",
    "blackout_update",
    "cab_meeting_add_item",
    "cab_meeting_create",
    "cab_meeting_record_decision",
    "cab_meeting_record_minutes",
    "change_approve",
    "change_attach",
    "change_cancel",
    "change_close",
    "change_create",
    "change_delete",
    "change_impact_refresh",
    "change_implement",
    "change_log_event",
    "change_reject",
    "change_request_info",
    "change_resubmit",
    "change_review",
    "change_schedule",
    "change_submit",
    "change_update",
    "change_vote",
    "lock_change",
    "move",
    "template_create",
    "template_delete",
    "template_update",
]
