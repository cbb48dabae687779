"""Approval: routing a submitted RFC by the approval rules, votes and their evaluation, requests
for information, and CAB meetings (agenda, decisions). Re-exported by `changes.services`.

The decision rule (evaluated after every vote of the current round), for a body with quorum
`q` and majority `m` (a share, default 0.5): eligible voters are the body's members without the
originator; with `v` votes cast, `a` of them approvals, and `r` eligible members yet to vote —

- approved when `v >= q`, `a > m * v` and, if the body names business and technical members,
  at least one of each has voted;
- rejected when approval can no longer be reached: `a + r <= m * (v + r)` (even if everyone
  left approved, approvals would not be a majority).

When the quorum is out of reach (too few eligible members) the RFC stays submitted and a Change
Manager decides (`change_approve` / `change_reject`, e.g. at a CAB meeting); an approval never
rejects. `selectors.vote_tally` gives the figures (the CAB page shows them).

The owner of the CIs decides alone (quorum 1): their approval approves, their rejection rejects.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from itsm.audit import ChangeContext, record
from itsm.exceptions import ApplicationError, PermissionDeniedError
from itsm.permissions import require_permission

from . import selectors
from .choices import (
    RISK_ORDER,
    BodyKind,
    ChangeStatus,
    ChangeType,
    MeetingDecision,
    MeetingStatus,
    VoteDecision,
)
from .models import ApprovalBody, ApprovalRule, CabAgendaItem, CabMeeting, Change, Vote


@dataclass
class Route:
    """Where a submitted RFC goes."""

    approver: str
    body: ApprovalBody | None = None
    rule: ApprovalRule | None = None

    @property
    def pre_approved(self) -> bool:
        return self.approver == BodyKind.NONE


def _rule_matches(rule: ApprovalRule, change: Change) -> bool:
    if rule.change_type != change.change_type:
        return False
    if rule.priority and rule.priority != change.priority:
        return False
    level = RISK_ORDER.get(change.risk, 0)
    if rule.min_risk and level < RISK_ORDER[rule.min_risk]:
        return False
    return not (rule.max_risk and level > RISK_ORDER[rule.max_risk])


def route_for_approval(change: Change) -> Route:
    """The first active rule (by order) that matches the RFC's type, priority and risk, and
    can apply: "none" only pre-approves a standard change from a template; "ci_owner" needs an
    owner of the CIs other than the originator. Without a rule, the CAB."""
    for rule in ApprovalRule.objects.filter(active=True).select_related("body"):
        if not _rule_matches(rule, change):
            continue
        if rule.approver == BodyKind.NONE:
            if change.change_type == ChangeType.STANDARD and change.template_id:
                return Route(BodyKind.NONE, rule=rule)
            continue
        if rule.approver == BodyKind.CI_OWNER:
            if selectors.ci_owner_ids(change) - {change.originator_id}:
                return Route(BodyKind.CI_OWNER, rule=rule)
            continue
        return Route(rule.approver, body=rule.body, rule=rule)
    body = ApprovalBody.objects.filter(kind=BodyKind.CAB).order_by("pk").first()
    if body is None:
        raise ApplicationError("No approval rule applies to this RFC and there is no CAB.")
    return Route(BodyKind.CAB, body=body)


def evaluate(change: Change) -> str | None:
    """ "approved", "rejected" or None (still open) for the votes of the current round."""
    tally = selectors.vote_tally(change)
    if tally.approved:
        return ChangeStatus.APPROVED
    if tally.rejected:
        return ChangeStatus.REJECTED
    return None


def _require_voter(context: ChangeContext, change: Change) -> None:
    actor = context.actor
    if actor is None:
        raise ApplicationError("Only a person votes.")
    if actor.pk == change.originator_id:
        raise PermissionDeniedError("The originator of an RFC never approves it.")
    if change.approver in (BodyKind.CAB, BodyKind.ECAB):
        require_permission(context, "changes.vote_change")
    if actor.pk not in selectors.eligible_voter_ids(change):
        raise PermissionDeniedError("Only members of the approving body vote on this RFC.")


@transaction.atomic
def change_vote(
    *, context: ChangeContext, change: Change, decision: str, comment: str = ""
) -> Vote:
    """Record a member's vote in the current round, then decide the RFC if the votes say so."""
    from .services import lock_change, move

    if decision not in VoteDecision.values:
        raise ApplicationError(
            "The decision is approve or reject.", extra={"decision": list(VoteDecision.values)}
        )
    change = lock_change(change)
    if change.status != ChangeStatus.SUBMITTED:
        raise ApplicationError(
            f"Votes are taken only on a submitted RFC; this one is {change.status}.",
            extra={"status": change.status},
        )
    _require_voter(context, change)
    voter = context.actor
    assert voter is not None  # _require_voter refuses the system
    if Vote.objects.filter(change=change, voter=voter, round=change.vote_round).exists():
        raise ApplicationError("You have already voted on this RFC.")
    try:
        with transaction.atomic():
            vote = Vote.objects.create(
                change=change,
                voter=voter,
                round=change.vote_round,
                decision=decision,
                comment=comment,
                at=context.at or timezone.now(),
            )
    except IntegrityError as exc:  # a concurrent second vote of the same member
        raise ApplicationError("You have already voted on this RFC.") from exc
    record(
        obj=change,
        kind="vote",
        changes={"vote": {"decision": decision, "comment": comment, "round": vote.round}},
        context=context,
    )
    outcome = evaluate(change)
    if outcome is not None:
        change.decided_at = timezone.now()
        move(
            context=context,
            change=change,
            new=outcome,
            kind=outcome,
            changes={"reason": "decided by the votes"},
            fields=["decided_at"],
        )
        _notify(change, "decided")
    return vote


def _notify(change: Change, event: str) -> None:
    from .notifications import notify_after_commit

    notify_after_commit(change.pk, event)


@transaction.atomic
def change_request_info(*, context: ChangeContext, change: Change, comment: str) -> Change:
    """An approver (or a Change Manager) asks the requester for information: the RFC goes
    back to them (info_requested) until they resubmit."""
    from .services import lock_change, move

    if not comment.strip():
        raise ApplicationError("Say what information is needed.", extra={"comment": ["Required."]})
    change = lock_change(change)
    actor = context.actor
    if actor is not None and not actor.has_perm("changes.manage_change"):
        _require_voter(context, change)
    move(
        context=context,
        change=change,
        new=ChangeStatus.INFO_REQUESTED,
        kind="info_requested",
        changes={"comment": comment},
    )
    _notify(change, "info_requested")
    return change


def _decide(*, context: ChangeContext, change: Change, new: str, comment: str) -> Change:
    from .services import lock_change, move

    require_permission(context, "changes.manage_change")
    change = lock_change(change)
    if context.actor is not None and context.actor.pk == change.originator_id:
        raise PermissionDeniedError("The originator of an RFC never approves it.")
    change.decided_at = timezone.now()
    move(
        context=context,
        change=change,
        new=new,
        kind=new,
        changes={"comment": comment, "reason": "decided by a Change Manager"},
        fields=["decided_at"],
    )
    _notify(change, "decided")
    return change


@transaction.atomic
def change_approve(*, context: ChangeContext, change: Change, comment: str = "") -> Change:
    """A Change Manager approves a submitted RFC (e.g. recording a CAB meeting's decision)."""
    return _decide(context=context, change=change, new=ChangeStatus.APPROVED, comment=comment)


@transaction.atomic
def change_reject(*, context: ChangeContext, change: Change, comment: str = "") -> Change:
    """A Change Manager rejects a submitted RFC."""
    return _decide(context=context, change=change, new=ChangeStatus.REJECTED, comment=comment)


# --- CAB meetings -------------------------------------------------------------------------

MEETING_DECISIONS = tuple(MeetingDecision.values)


@transaction.atomic
def cab_meeting_create(
    *,
    context: ChangeContext,
    body: ApprovalBody,
    title: str,
    start: dt.datetime,
    end: dt.datetime | None = None,
    location: str = "",
) -> CabMeeting:
    """Plan a meeting of `body`; its agenda is every RFC waiting for that body's decision, the
    oldest submitted first."""
    require_permission(context, "changes.manage_change")
    if end is not None and end <= start:
        raise ApplicationError(
            "The meeting must end after it starts.", extra={"end": ["Too early."]}
        )
    meeting = CabMeeting.objects.create(
        body=body, title=title, start=start, end=end, location=location, created_by=context.actor
    )
    waiting = list(selectors.waiting_for_body(body).values_list("pk", flat=True))
    CabAgendaItem.objects.bulk_create(
        CabAgendaItem(meeting=meeting, change_id=pk, position=i) for i, pk in enumerate(waiting)
    )
    record(
        obj=meeting,
        kind="created",
        changes={"agenda": {"added": waiting, "removed": []}, "title": title},
        context=context,
    )
    return meeting


@transaction.atomic
def cab_meeting_add_item(
    *, context: ChangeContext, meeting: CabMeeting, change: Change
) -> CabAgendaItem:
    """Put one more RFC on a meeting's agenda."""
    require_permission(context, "changes.manage_change")
    position = meeting.items.count()
    item, created = CabAgendaItem.objects.get_or_create(
        meeting=meeting, change=change, defaults={"position": position}
    )
    if created:
        record(
            obj=meeting,
            kind="updated",
            changes={"agenda": {"added": [change.pk], "removed": []}},
            context=context,
        )
    return item


@transaction.atomic
def cab_meeting_record_decision(
    *,
    context: ChangeContext,
    meeting: CabMeeting,
    change: Change,
    decision: str,
    notes: str = "",
) -> CabAgendaItem:
    """Record what the meeting decided about an RFC on its agenda (approve, reject,
    request_info, defer) with the votes cast so far; approve/reject/request_info move the RFC.
    The meeting is marked held."""
    require_permission(context, "changes.manage_change")
    if decision not in MEETING_DECISIONS:
        raise ApplicationError("Unknown decision.", extra={"decision": list(MEETING_DECISIONS)})
    meeting = CabMeeting.objects.select_for_update().get(pk=meeting.pk)
    try:
        item = meeting.items.select_for_update().get(change=change)
    except CabAgendaItem.DoesNotExist as exc:
        raise ApplicationError("This RFC is not on the meeting's agenda.") from exc
    if decision == "approve":
        change_approve(context=context, change=change, comment=notes)
    elif decision == "reject":
        change_reject(context=context, change=change, comment=notes)
    elif decision == "request_info":
        change_request_info(context=context, change=change, comment=notes or "Asked by the CAB.")
    votes = [
        {"voter": voter, "decision": d}
        for voter, d in Vote.objects.filter(change=change, round=change.vote_round)
        .order_by("at")
        .values_list("voter__username", "decision")
    ]
    item.decision, item.notes = decision, notes
    item.save(update_fields=["decision", "notes"])
    if meeting.status != MeetingStatus.HELD:
        meeting.status = MeetingStatus.HELD
        meeting.save(update_fields=["status"])
    record(
        obj=meeting,
        kind="decision",
        changes={"change": change.number, "decision": decision, "notes": notes, "votes": votes},
        context=context,
    )
    return item


@transaction.atomic
def cab_meeting_record_minutes(
    *, context: ChangeContext, meeting: CabMeeting, minutes: str
) -> CabMeeting:
    """Write (or rewrite) the minutes of a meeting; the meeting is marked held."""
    require_permission(context, "changes.manage_change")
    meeting = CabMeeting.objects.select_for_update().get(pk=meeting.pk)
    old = meeting.minutes
    meeting.minutes, meeting.status = minutes, MeetingStatus.HELD
    meeting.save(update_fields=["minutes", "status"])
    record(
        obj=meeting,
        kind="minutes",
        changes={"minutes": {"old": old, "new": minutes}},
        context=context,
    )
    return meeting
