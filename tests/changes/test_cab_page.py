"""The CAB member's page: only what I may vote on, one-click votes that update the row in place,
refusals shown inline with nothing changed, a fixed query count; CAB meetings."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from changes import services
from changes.choices import ChangeStatus
from changes.models import ApprovalBody, CabMeeting, Vote
from itsm import roles
from tests.changes.conftest import ctx
from tests.query_counts import assert_pinned, measure

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
CAB = reverse("changes:cab")


def also_requester(user):
    """A CAB member who also raises RFCs (Service Desk)."""
    user.groups.add(Group.objects.get(name=roles.SERVICE_DESK))
    return user.__class__.objects.get(pk=user.pk)


def vote(client, change, decision, comment="", htmx=True):
    url = reverse("changes:cab-vote", args=[change.pk])
    return client.post(url, {"decision": decision, "comment": comment}, **(HX if htmx else {}))


def test_the_page_lists_only_what_i_may_vote_on(client, cab, submitted, make_user, make_change):
    waiting = submitted(title="Patch the relay")
    mine = submitted(by=also_requester(cab[0]), title="My own change")  # raised by a CAB member
    draft = make_change(title="Still a draft")
    voted = submitted(title="Already voted")
    services.change_vote(context=ctx(cab[0]), change=voted, decision="approve")
    ecab_only = make_user(roles.CAB_MEMBER)
    ecab = ApprovalBody.objects.get(name="Emergency CAB")
    ecab.members.add(ecab_only)
    emergency = submitted(title="Emergency fix", change_type="emergency", priority="emergency")
    client.force_login(cab[0])
    page = client.get(CAB).content.decode()
    assert waiting.number in page
    for hidden in (mine, draft, voted):
        assert hidden.number not in page
    assert (emergency.approval_body == ecab) and emergency.number not in page
    client.force_login(ecab_only)
    page = client.get(CAB).content.decode()
    assert emergency.number in page  # a member of the ECAB (and of the CAB, by role)


def test_a_row_shows_impact_risk_plans_and_conflicts(client, cab, submitted):
    change = submitted()
    client.force_login(cab[1])
    page = client.get(CAB).content.decode()
    assert "Do it." in page and "Undo it." in page and "Risk" in page
    assert "1 CI" in page  # the impact set: its own CI
    details = client.get(reverse("changes:cab-details", args=[change.pk]), **HX)
    assert "submitted" in details.content.decode().lower()


def test_approve_in_one_click_updates_the_row(client, cab, submitted):
    change = submitted()
    client.force_login(cab[0])
    first = vote(client, change, "approve", "Fine by me")
    assert first.status_code == 200 and b"<html" not in first.content
    assert (
        "You approved" in first.content.decode()
        and "waiting for more votes" in first.content.decode()
    )
    assert Vote.objects.get(change=change, voter=cab[0]).comment == "Fine by me"
    assert change.number not in client.get(CAB).content.decode()
    client.force_login(cab[1])
    second = vote(client, change, "approve")
    change.refresh_from_db()
    assert change.status == ChangeStatus.APPROVED
    assert 'data-status="approved"' in second.content.decode()


def test_reject_and_ask_for_information(client, cab, submitted):
    rejected, asked = submitted(), submitted()
    client.force_login(cab[0])
    assert vote(client, rejected, "reject", "Too risky").status_code == 200
    assert Vote.objects.get(change=rejected).decision == "reject"
    assert vote(client, asked, "request_info", "Which night?").status_code == 200
    asked.refresh_from_db()
    assert asked.status == ChangeStatus.INFO_REQUESTED


def test_asking_for_information_needs_a_comment(client, cab, submitted):
    change = submitted()
    client.force_login(cab[0])
    response = vote(client, change, "request_info")
    assert (
        response.status_code == 400
        and "Say what information is needed." in response.content.decode()
    )
    assert f'id="cab-row-{change.pk}"' in response.content.decode()  # the row, with the error
    change.refresh_from_db()
    assert change.status == ChangeStatus.SUBMITTED


def test_a_second_vote_is_refused_inline(client, cab, submitted):
    change = submitted()
    client.force_login(cab[0])
    vote(client, change, "approve")
    response = vote(client, change, "reject")
    assert response.status_code == 400 and "already voted" in response.content.decode()
    assert Vote.objects.filter(change=change).count() == 1


@pytest.mark.parametrize("role", [roles.SERVICE_DESK, roles.READ_ONLY])
def test_non_members_may_not_vote(client, make_user, submitted, role):
    change = submitted()
    client.force_login(make_user(role))
    assert change.number not in client.get(CAB).content.decode()
    assert vote(client, change, "approve").status_code == 403
    assert not Vote.objects.exists()


def test_the_originator_may_not_vote_on_their_own_rfc(client, cab, submitted):
    change = submitted(by=also_requester(cab[2]))
    client.force_login(cab[2])
    assert vote(client, change, "approve").status_code == 403
    assert not Vote.objects.exists()


def test_the_page_needs_the_view_permission(client, make_user):
    client.force_login(make_user(None))
    assert client.get(CAB).status_code == 403


def test_without_htmx_a_vote_redirects_to_the_page(client, cab, submitted):
    change = submitted()
    client.force_login(cab[0])
    response = vote(client, change, "approve", htmx=False)
    assert response.status_code == 302 and response.url == CAB


def test_the_cab_page_has_a_fixed_query_count(client, cab, submitted, make_ci):
    shared = make_ci("shared")
    submitted(cis=[shared, make_ci()])
    client.force_login(cab[0])
    few = measure(client, CAB)
    for _ in range(12):
        submitted(cis=[shared, make_ci()])
    many = measure(client, CAB)
    assert few == many
    assert_pinned("changes.cab_page", many)


# --- meetings -----------------------------------------------------------------------------


def test_a_meeting_is_planned_with_the_waiting_rfcs_and_decides(client, manager, cab, submitted):
    first, second = submitted(), submitted()
    services.change_vote(context=ctx(cab[0]), change=first, decision="approve")
    client.force_login(manager)
    body = ApprovalBody.objects.get(name="Change Advisory Board")
    response = client.post(
        reverse("changes:meeting-create"),
        {"body": body.pk, "title": "Weekly CAB", "start": "2030-01-07T10:00"},
    )
    meeting = CabMeeting.objects.get()
    assert response.status_code == 302
    assert list(meeting.agenda.order_by("pk")) == [first, second]
    page = client.get(reverse("changes:meeting-detail", args=[meeting.pk])).content.decode()
    assert first.number in page and cab[0].username in page  # the votes so far
    item = meeting.items.get(change=first)
    url = reverse("changes:meeting-decide", args=[meeting.pk, item.pk])
    decided = client.post(url, {"decision": "approve", "notes": "Go"}, **HX)
    assert decided.status_code == 200 and "Approve" in decided.content.decode()
    first.refresh_from_db()
    item.refresh_from_db()
    assert first.status == ChangeStatus.APPROVED and item.decision == "approve"
    assert meeting.__class__.objects.get().status == "held"
    listing = client.get(reverse("changes:meeting-list")).content.decode()
    assert "Weekly CAB" in listing and "2 RFCs" in listing


def test_a_meeting_ending_before_it_starts_is_a_form_error(client, manager):
    client.force_login(manager)
    body = ApprovalBody.objects.get(name="Change Advisory Board")
    data = {"body": body.pk, "title": "x", "start": "2030-01-07T10:00", "end": "2030-01-07T09:00"}
    response = client.post(reverse("changes:meeting-create"), data)
    assert response.status_code == 400 and not CabMeeting.objects.exists()


def test_cab_members_may_not_plan_or_decide(client, cab, manager, submitted):
    change = submitted()
    meeting = services.cab_meeting_create(
        context=ctx(manager),
        body=ApprovalBody.objects.get(name="Change Advisory Board"),
        title="CAB",
        start=change.submitted_at,
    )
    client.force_login(cab[0])
    assert client.get(reverse("changes:meeting-create")).status_code == 403
    item = meeting.items.get()
    url = reverse("changes:meeting-decide", args=[meeting.pk, item.pk])
    assert client.post(url, {"decision": "approve"}, **HX).status_code == 403
    change.refresh_from_db()
    assert change.status == ChangeStatus.SUBMITTED
    assert client.get(reverse("changes:meeting-detail", args=[meeting.pk])).status_code == 200
