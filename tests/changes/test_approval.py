"""Approval rules, quorum and majority, who may vote (issue 9 item 3)."""

from __future__ import annotations

import pytest

from changes import services
from changes.cab_services import route_for_approval
from changes.choices import BodyKind, ChangePriority, ChangeStatus, ChangeType, RiskLevel
from changes.models import ApprovalBody, ApprovalRule, Change, Vote
from changes.selectors import cab_pending_for, eligible_voter_ids, vote_tally
from itsm import roles
from itsm.exceptions import ApplicationError, PermissionDeniedError
from tests.changes.conftest import ctx

pytestmark = pytest.mark.django_db


def vote(user, change, decision="approve", comment=""):
    return services.change_vote(
        context=ctx(user), change=change, decision=decision, comment=comment
    )


def raiser(user):
    """Let a CAB member raise RFCs too (they are also in the Service Desk)."""
    from django.contrib.auth.models import Group

    user.groups.add(Group.objects.get(name=roles.SERVICE_DESK))
    return type(user).objects.get(pk=user.pk)  # fresh permission cache


def status_of(change) -> str:
    change.refresh_from_db()
    return change.status


# --- rules ------------------------------------------------------------------------------------


def test_normal_changes_go_to_the_cab(submitted, cab_body):
    change = submitted()
    assert (change.status, change.approver, change.approval_body) == (
        ChangeStatus.SUBMITTED,
        BodyKind.CAB,
        cab_body,
    )


def test_emergency_changes_go_to_the_ecab(submitted, ecab_body):
    change = submitted(change_type=ChangeType.EMERGENCY, priority=ChangePriority.EMERGENCY)
    assert (change.approver, change.approval_body) == (BodyKind.ECAB, ecab_body)


def test_the_ecab_decides_with_one_vote(submitted, cab):
    change = submitted(change_type=ChangeType.EMERGENCY)
    vote(cab[0], change)
    assert status_of(change) == ChangeStatus.APPROVED


def test_low_risk_routine_normal_changes_go_to_the_ci_owner_when_enabled(
    make_change, make_ci, requester, make_user
):
    ApprovalRule.objects.filter(approver=BodyKind.CI_OWNER).update(active=True)
    owner = make_user(None, username="owner")
    change = make_change(cis=[make_ci(owner=owner)], priority=ChangePriority.ROUTINE)
    change = services.change_submit(context=ctx(requester), change=change)
    assert change.approver == BodyKind.CI_OWNER
    assert eligible_voter_ids(change) == {owner.pk}
    assert list(cab_pending_for(owner)) == [change]
    vote(owner, change)
    assert status_of(change) == ChangeStatus.APPROVED


def test_the_ci_owner_rule_does_not_take_urgent_or_riskier_changes(
    make_change, make_ci, requester, make_user, cab_body
):
    ApprovalRule.objects.filter(approver=BodyKind.CI_OWNER).update(active=True)
    owner = make_user(None, username="owner")
    urgent = make_change(cis=[make_ci(owner=owner)], priority=ChangePriority.URGENT)
    assert route_for_approval(urgent).approver == BodyKind.CAB
    risky = make_change(cis=[make_ci(owner=owner)])
    risky.risk = RiskLevel.MEDIUM
    assert route_for_approval(risky).approver == BodyKind.CAB


def test_a_ci_owner_rule_without_an_owner_falls_through_to_the_cab(make_change, requester):
    ApprovalRule.objects.filter(approver=BodyKind.CI_OWNER).update(active=True)
    change = make_change()  # its CI has no owner
    assert route_for_approval(change).approver == BodyKind.CAB


def test_the_originator_owning_the_ci_does_not_make_it_a_ci_owner_change(
    make_change, make_ci, requester
):
    ApprovalRule.objects.filter(approver=BodyKind.CI_OWNER).update(active=True)
    change = make_change(cis=[make_ci(owner=requester)])
    assert route_for_approval(change).approver == BodyKind.CAB


def test_rules_by_risk_range(make_change, make_user):
    special = ApprovalBody.objects.create(name="High-risk board", quorum=1)
    ApprovalRule.objects.create(
        name="High risk", change_type=ChangeType.NORMAL, min_risk=RiskLevel.HIGH,
        approver=BodyKind.CAB, body=special, order=1,
    )  # fmt: skip
    change = make_change()
    for level, expected in [
        (RiskLevel.LOW, "Change Advisory Board"),
        (RiskLevel.MEDIUM, "Change Advisory Board"),
        (RiskLevel.HIGH, "High-risk board"),
        (RiskLevel.VERY_HIGH, "High-risk board"),
    ]:
        change.risk = level
        assert route_for_approval(change).body.name == expected, level


def test_rules_by_priority_and_order(make_change):
    urgent_board = ApprovalBody.objects.create(name="Urgent board", quorum=1)
    ApprovalRule.objects.create(
        name="Urgent", change_type=ChangeType.NORMAL, priority=ChangePriority.URGENT,
        approver=BodyKind.ECAB, body=urgent_board, order=25,
    )  # fmt: skip
    assert route_for_approval(make_change(priority=ChangePriority.URGENT)).body == urgent_board
    assert route_for_approval(make_change()).body.name == "Change Advisory Board"
    ApprovalRule.objects.filter(name="Urgent").update(active=False)
    assert route_for_approval(make_change(priority=ChangePriority.URGENT)).body.name == (
        "Change Advisory Board"
    )


def test_a_none_rule_never_pre_approves_a_normal_change(make_change):
    ApprovalRule.objects.create(
        name="Careless", change_type=ChangeType.NORMAL, approver=BodyKind.NONE, order=1
    )
    assert route_for_approval(make_change()).approver == BodyKind.CAB


# --- quorum and majority --------------------------------------------------------------------


def test_one_approval_is_below_the_quorum(submitted, cab):
    change = submitted()
    vote(cab[0], change)
    assert status_of(change) == ChangeStatus.SUBMITTED


def test_quorum_and_majority_approve(submitted, cab):
    change = submitted()
    vote(cab[0], change)
    vote(cab[1], change)
    assert status_of(change) == ChangeStatus.APPROVED
    assert change.decided_at is not None


def test_a_split_vote_waits_for_the_third_member(submitted, cab):
    change = submitted()
    vote(cab[0], change, "approve")
    vote(cab[1], change, "reject")
    assert status_of(change) == ChangeStatus.SUBMITTED  # 1/2 is not more than half
    vote(cab[2], change, "approve")
    assert status_of(change) == ChangeStatus.APPROVED  # 2/3


def test_rejected_once_approval_is_out_of_reach(submitted, cab):
    change = submitted()
    vote(cab[0], change, "reject")
    assert status_of(change) == ChangeStatus.SUBMITTED
    vote(cab[1], change, "reject")
    assert status_of(change) == ChangeStatus.REJECTED  # at best 1 of 3


def test_the_originator_does_not_count_towards_the_quorum(make_change, cab, cab_body):
    # A CAB member raises an RFC: the two other members must both vote.
    change = make_change(by=raiser(cab[0]))
    change = services.change_submit(context=ctx(cab[0]), change=change)
    assert eligible_voter_ids(change) == {cab[1].pk, cab[2].pk}
    with pytest.raises(PermissionDeniedError):
        vote(cab[0], change)
    assert not Vote.objects.exists()
    vote(cab[1], change)
    assert status_of(change) == ChangeStatus.SUBMITTED
    vote(cab[2], change)
    assert status_of(change) == ChangeStatus.APPROVED


def test_required_business_and_technical_members_must_both_vote(submitted, cab, cab_body):
    cab_body.business_members.set([cab[2]])
    cab_body.technical_members.set([cab[1]])
    change = submitted()
    vote(cab[0], change)
    vote(cab[1], change)
    assert status_of(change) == ChangeStatus.SUBMITTED  # no business member yet
    vote(cab[2], change)
    assert status_of(change) == ChangeStatus.APPROVED


def test_named_members_replace_the_group(submitted, cab, cab_body, make_user):
    outsider = make_user(roles.CAB_MEMBER)
    cab_body.members.set(cab[:2])
    change = submitted()
    with pytest.raises(PermissionDeniedError):
        vote(outsider, change)
    assert list(cab_pending_for(outsider)) == []
    assert list(cab_pending_for(cab[0])) == [change]


# --- who may vote, and when -----------------------------------------------------------------


def test_self_approval_is_refused(make_change, cab):
    change = make_change(by=raiser(cab[0]))
    Change.objects.filter(pk=change.pk).update(
        status=ChangeStatus.SUBMITTED,
        approver=BodyKind.CAB,
        approval_body=ApprovalBody.objects.get(name="Change Advisory Board"),
    )
    with pytest.raises(PermissionDeniedError):
        vote(cab[0], change)
    assert not Vote.objects.exists()


def test_a_non_member_may_not_vote(submitted, make_user):
    change = submitted()
    for role in (None, roles.SERVICE_DESK, roles.CHANGE_MANAGER):
        with pytest.raises(PermissionDeniedError):
            vote(make_user(role), change)
    assert not Vote.objects.exists()


def test_a_second_vote_by_the_same_member_is_refused(submitted, cab):
    change = submitted()
    vote(cab[0], change)
    with pytest.raises(ApplicationError) as refused:
        vote(cab[0], change, "reject")
    assert refused.value.status_code == 400
    assert Vote.objects.count() == 1


@pytest.mark.parametrize(
    "status",
    [ChangeStatus.DRAFT, ChangeStatus.INFO_REQUESTED, ChangeStatus.APPROVED, ChangeStatus.CLOSED,
     ChangeStatus.CANCELLED, ChangeStatus.REJECTED],
)  # fmt: skip
def test_votes_only_on_a_submitted_rfc(submitted, cab, status):
    change = submitted()
    Change.objects.filter(pk=change.pk).update(status=status)
    with pytest.raises(ApplicationError) as refused:
        vote(cab[0], change)
    assert refused.value.status_code == 400
    assert not Vote.objects.exists()


def test_an_unknown_decision_is_refused(submitted, cab):
    with pytest.raises(ApplicationError):
        vote(cab[0], submitted(), "maybe")


# --- asking for information -----------------------------------------------------------------


def test_ask_for_information_then_resubmit_opens_a_new_round(submitted, cab, requester):
    change = submitted()
    vote(cab[0], change, "approve")
    services.change_request_info(context=ctx(cab[1]), change=change, comment="Which nodes?")
    assert status_of(change) == ChangeStatus.INFO_REQUESTED
    services.change_update(
        context=ctx(requester), change=change, data={"technical_assessment": "Nodes 1-3."}
    )
    services.change_resubmit(context=ctx(requester), change=change, comment="Answered")
    assert status_of(change) == ChangeStatus.SUBMITTED
    assert change.vote_round == 2
    vote(cab[0], change, "approve")  # may vote again in the new round
    assert status_of(change) == ChangeStatus.SUBMITTED
    vote(cab[1], change, "approve")
    assert status_of(change) == ChangeStatus.APPROVED


def test_a_non_member_may_not_ask_for_information(submitted, make_user):
    change = submitted()
    with pytest.raises(PermissionDeniedError):
        services.change_request_info(
            context=ctx(make_user(roles.SERVICE_DESK)), change=change, comment="?"
        )


def test_asking_needs_a_comment(submitted, cab):
    with pytest.raises(ApplicationError):
        services.change_request_info(context=ctx(cab[0]), change=submitted(), comment=" ")


# --- the CAB member's queue and meetings ----------------------------------------------------


def test_cab_pending_for_lists_what_awaits_the_members_vote(submitted, cab, requester):
    first, second = submitted(), submitted()
    vote(cab[0], first)
    assert list(cab_pending_for(cab[0])) == [second]
    assert list(cab_pending_for(cab[1])) == [first, second]
    assert list(cab_pending_for(requester)) == []


def test_a_meeting_agenda_holds_the_waiting_rfcs_and_records_decisions(
    submitted, cab, cab_body, manager
):
    from django.utils import timezone

    first, second = submitted(), submitted()
    vote(cab[0], first, "approve", "fine")
    meeting = services.cab_meeting_create(
        context=ctx(manager), body=cab_body, title="Weekly CAB", start=timezone.now()
    )
    assert [item.change for item in meeting.items.all()] == [first, second]
    item = services.cab_meeting_record_decision(
        context=ctx(manager), meeting=meeting, change=first, decision="approve", notes="Agreed"
    )
    assert item.decision == "approve"
    assert status_of(first) == ChangeStatus.APPROVED
    services.cab_meeting_record_decision(
        context=ctx(manager), meeting=meeting, change=second, decision="defer"
    )
    assert status_of(second) == ChangeStatus.SUBMITTED
    meeting.refresh_from_db()
    assert meeting.status == "held"
    from itsm.audit import entries_for

    decision = entries_for(meeting).filter(kind="decision").last()
    assert decision.changes["votes"] == [{"voter": cab[0].username, "decision": "approve"}]


def test_only_a_change_manager_runs_meetings(cab, cab_body):
    from django.utils import timezone

    with pytest.raises(PermissionDeniedError):
        services.cab_meeting_create(
            context=ctx(cab[0]), body=cab_body, title="x", start=timezone.now()
        )


def test_an_approval_never_rejects_when_the_quorum_is_out_of_reach(submitted, cab, cab_body):
    cab_body.members.set(cab[:1])  # one voter, quorum 2
    change = submitted()
    vote(cab[0], change, "approve")
    assert status_of(change) == ChangeStatus.SUBMITTED
    tally = vote_tally(change)
    assert tally.quorum_out_of_reach and (tally.cast, tally.approvals) == (1, 1)


def test_the_tally_says_where_the_votes_stand(submitted, cab, cab_body):
    cab_body.business_members.set([cab[2]])
    change = submitted()
    vote(cab[0], change, "approve")
    vote(cab[1], change, "approve")
    tally = vote_tally(change)
    assert (tally.eligible, tally.cast, tally.approvals, tally.remaining) == (3, 2, 2, 1)
    assert tally.missing_required == ["business"] and not tally.approved
    assert status_of(change) == ChangeStatus.SUBMITTED
