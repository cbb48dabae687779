"""The RFC workflow: every (status, move) pair allowed or refused, as the table in choices.py
says; refused moves answer 400 and write nothing."""

from __future__ import annotations

import datetime as dt

import pytest

from changes import services
from changes.choices import CHANGE_TRANSITIONS, BodyKind, ChangeStatus, ChangeType
from changes.models import ApprovalBody, Change, StandardChangeTemplate
from itsm.audit import entries_for
from itsm.exceptions import ApplicationError, PermissionDeniedError
from tests.changes.conftest import NOW, ctx

pytestmark = pytest.mark.django_db

S = ChangeStatus


def at_status(change: Change, status: str) -> Change:
    """Put an RFC in `status` (test set-up), as if it had got there through the workflow."""
    body = ApprovalBody.objects.get(name="Change Advisory Board")
    Change.objects.filter(pk=change.pk).update(
        status=status, approver=BodyKind.CAB, approval_body=body
    )
    change.refresh_from_db()
    return change


def _schedule(c, change):
    return services.change_schedule(
        context=c,
        change=change,
        start=NOW + dt.timedelta(days=3),
        end=NOW + dt.timedelta(days=3, hours=1),
    )


#: move name → (how to make it as a Change Manager, the status it leads to)
MOVES = {
    "submit": (lambda c, ch: services.change_submit(context=c, change=ch), S.SUBMITTED),
    "resubmit": (lambda c, ch: services.change_resubmit(context=c, change=ch), S.SUBMITTED),
    "request_info": (
        lambda c, ch: services.change_request_info(context=c, change=ch, comment="Why?"),
        S.INFO_REQUESTED,
    ),
    "approve": (lambda c, ch: services.change_approve(context=c, change=ch), S.APPROVED),
    "reject": (lambda c, ch: services.change_reject(context=c, change=ch), S.REJECTED),
    "schedule": (_schedule, S.SCHEDULED),
    "implement": (lambda c, ch: services.change_implement(context=c, change=ch), S.IMPLEMENTED),
    "review": (
        lambda c, ch: services.change_review(context=c, change=ch, outcome="successful"),
        S.REVIEWED,
    ),
    "close": (lambda c, ch: services.change_close(context=c, change=ch), S.CLOSED),
    "cancel": (lambda c, ch: services.change_cancel(context=c, change=ch), S.CANCELLED),
}

#: From which statuses each move is allowed (derived by hand from the issue; checked against
#: the table in choices.py below).
ALLOWED_FROM = {
    "submit": {S.DRAFT},
    "resubmit": {S.INFO_REQUESTED},
    "request_info": {S.SUBMITTED},
    "approve": {S.SUBMITTED},
    "reject": {S.SUBMITTED},
    "schedule": {S.APPROVED, S.SCHEDULED},
    "implement": {S.APPROVED, S.SCHEDULED},
    "review": {S.IMPLEMENTED},
    "close": {S.REVIEWED},
    "cancel": {S.DRAFT, S.SUBMITTED, S.INFO_REQUESTED, S.APPROVED, S.SCHEDULED},
}


def test_the_table_agrees_with_choices():
    for move, (_, target) in MOVES.items():
        for status in S.values:
            in_table = target in CHANGE_TRANSITIONS[status]
            if move in ("submit", "resubmit"):
                continue  # both lead to submitted, from different statuses
            assert (status in ALLOWED_FROM[move]) == in_table, (move, status)


@pytest.mark.parametrize("status", S.values)
@pytest.mark.parametrize("move", sorted(MOVES))
def test_every_move_from_every_status(move, status, make_change, manager, cab):
    change = at_status(make_change(), status)
    make, target = MOVES[move]
    before = entries_for(change).count()
    if status in ALLOWED_FROM[move]:
        moved = make(ctx(manager), change)
        assert moved.status in (target, S.APPROVED) if move == "submit" else moved.status == target
    else:
        with pytest.raises(ApplicationError) as refused:
            make(ctx(manager), change)
        assert not isinstance(refused.value, PermissionDeniedError)
        assert refused.value.status_code == 400
        change.refresh_from_db()
        assert change.status == status
        assert entries_for(change).count() == before


def test_every_event_is_in_the_change_log(approved, manager):
    change = approved()
    services.change_schedule(
        context=ctx(manager), change=change, start=change.planned_start, end=change.planned_end
    )
    kinds = list(entries_for(change).values_list("kind", flat=True))[::-1]
    assert kinds == ["created", "impact", "submitted", "vote", "vote", "approved", "scheduled"]


@pytest.mark.parametrize("change_type", [ChangeType.NORMAL, ChangeType.EMERGENCY])
@pytest.mark.parametrize("missing", ["implementation_plan", "backout_plan"])
def test_normal_and_emergency_changes_need_both_plans(make_change, requester, change_type, missing):
    change = make_change(change_type=change_type, **{missing: ""})
    with pytest.raises(ApplicationError) as refused:
        services.change_submit(context=ctx(requester), change=change)
    assert missing in refused.value.extra
    change.refresh_from_db()
    assert change.status == S.DRAFT
    assert not change.impact.exists()


def test_a_standard_change_must_come_from_a_template(make_change, requester):
    change = make_change(change_type=ChangeType.STANDARD)
    with pytest.raises(ApplicationError) as refused:
        services.change_submit(context=ctx(requester), change=change)
    assert "template" in refused.value.extra


def test_a_standard_change_from_the_catalogue_is_approved_at_submit(make_change, requester):
    template = StandardChangeTemplate.objects.get(name="Install approved desktop software")
    change = make_change(
        change_type=ChangeType.STANDARD, template=template, implementation_plan="", backout_plan=""
    )
    assert change.implementation_plan == template.implementation_plan
    change = services.change_submit(context=ctx(requester), change=change)
    assert change.status == S.APPROVED
    assert change.approver == BodyKind.NONE


def test_an_inactive_template_is_refused(make_change, requester):
    template = StandardChangeTemplate.objects.get(name="Install approved desktop software")
    change = make_change(change_type=ChangeType.STANDARD, template=template)
    StandardChangeTemplate.objects.filter(pk=template.pk).update(active=False)
    with pytest.raises(ApplicationError):
        services.change_submit(context=ctx(requester), change=change)


def test_a_window_that_ends_before_it_starts_is_refused(make_change, requester):
    with pytest.raises(ApplicationError) as refused:
        make_change(planned_start=NOW, planned_end=NOW - dt.timedelta(hours=1))
    assert "planned_end" in refused.value.extra
    assert not Change.objects.exists()


def test_the_database_refuses_a_window_that_ends_before_it_starts(make_change):
    from django.db import IntegrityError, transaction

    change = make_change()
    with pytest.raises(IntegrityError), transaction.atomic():
        Change.objects.filter(pk=change.pk).update(planned_end=change.planned_start)


def test_the_database_refuses_an_unknown_status(make_change):
    from django.db import IntegrityError, transaction

    change = make_change()
    with pytest.raises(IntegrityError), transaction.atomic():
        Change.objects.filter(pk=change.pk).update(status="nonsense")


def test_someone_else_may_not_submit_or_cancel_a_requesters_rfc(make_change, make_user):
    from itsm import roles

    change = make_change()
    other = make_user(roles.SERVICE_DESK)
    for call in (services.change_submit, services.change_cancel):
        with pytest.raises(PermissionDeniedError):
            call(context=ctx(other), change=change)


def test_numbers_follow_each_other(make_change):
    first, second = make_change(), make_change()
    assert first.number.startswith("RFC-") and len(first.number) == 10
    assert int(second.number[4:]) == int(first.number[4:]) + 1


def test_a_stale_version_is_refused(make_change, requester):
    from itsm.exceptions import ConflictError

    change = make_change()
    services.change_update(context=ctx(requester), change=change, data={"title": "New"})
    with pytest.raises(ConflictError):
        services.change_update(
            context=ctx(requester), change=change, data={"title": "Newer"}, expected_version=1
        )


def test_a_submitted_rfc_is_no_longer_edited(submitted, requester):
    change = submitted()
    with pytest.raises(ApplicationError):
        services.change_update(context=ctx(requester), change=change, data={"title": "X"})
