"""The self-service portal: report with one of my devices, my tickets only (another's ticket is
a 404 for every page and action), comments, confirming or reopening a resolution."""

from __future__ import annotations

import pytest

from incidents import services
from incidents.choices import IncidentStatus, Source
from incidents.models import Incident, WorkLogEntry
from tests.factories import CIFactory, server_type

from .conftest import ctx

pytestmark = pytest.mark.django_db


def make_ci(**kwargs):
    return CIFactory(ci_type=server_type(), attributes={"os": "Debian"}, **kwargs)


@pytest.fixture
def user_client(client, end_user):
    client.force_login(end_user)
    return client


def resolved_ticket(user, agent):
    incident = services.incident_open(context=ctx(user), title="Wi-Fi drops")
    return services.incident_resolve(
        context=ctx(agent), incident=incident, resolution_method="fix", resolution="New driver"
    )


def test_report_a_problem_with_one_of_my_devices(user_client, end_user):
    mine = make_ci(name="my-laptop", owner=end_user)
    page = user_client.get("/portal/").content.decode()
    assert "my-laptop" in page and "I cannot work at all" in page
    response = user_client.post(
        "/portal/",
        {
            "title": "Screen flickers",
            "description": "Since Monday",
            "device": mine.pk,
            "urgency": "high",
        },
    )
    incident = Incident.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/portal/tickets/{incident.pk}/"
    assert incident.caller == end_user and incident.source == Source.PORTAL
    assert incident.urgency == "high" and list(incident.cis.all()) == [mine]
    assert incident.number.encode() in user_client.get("/portal/tickets/").content


def test_another_users_device_is_refused(user_client, other_end_user):
    theirs = make_ci(name="their-laptop", owner=other_end_user)
    assert b"their-laptop" not in user_client.get("/portal/").content
    response = user_client.post("/portal/", {"title": "x", "device": theirs.pk, "urgency": "low"})
    assert response.status_code == 400
    assert not Incident.objects.exists()
    assert user_client.post("/portal/", {"title": "", "urgency": "low"}).status_code == 400


def test_my_tickets_lists_only_mine(user_client, end_user, other_end_user):
    mine = services.incident_open(context=ctx(end_user), title="Mine")
    theirs = services.incident_open(context=ctx(other_end_user), title="Theirs")
    body = user_client.get("/portal/tickets/").content.decode()
    assert mine.number in body and theirs.number not in body
    searched = user_client.get(f"/portal/tickets/?q={theirs.number}").content.decode()
    assert f">{theirs.number}</a>" not in searched and "No ticket." in searched


def test_another_users_ticket_is_a_404_everywhere(user_client, other_end_user, agent):
    theirs = resolved_ticket(other_end_user, agent)
    base = f"/portal/tickets/{theirs.pk}"
    assert user_client.get(f"{base}/").status_code == 404
    assert user_client.post(f"{base}/comment/", {"note": "hi"}).status_code == 404
    assert user_client.post(f"{base}/confirm/").status_code == 404
    assert user_client.post(f"{base}/reopen/", {"reason": "no"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == IncidentStatus.RESOLVED
    assert not WorkLogEntry.objects.exists()
    # And the help desk's pages are not for end users.
    assert user_client.get(f"/incidents/{theirs.pk}/").status_code == 403


def test_comment_confirm_and_reopen_my_ticket(user_client, end_user, agent):
    ticket = resolved_ticket(end_user, agent)
    services.worklog_add(context=ctx(agent), incident=ticket, note="Internal detail", public=False)
    services.worklog_add(context=ctx(agent), incident=ticket, note="Try a reboot", public=True)
    page = user_client.get(f"/portal/tickets/{ticket.pk}/").content.decode()
    assert "Try a reboot" in page and "Internal detail" not in page and "New driver" in page
    hx = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "ticket"}
    response = user_client.post(f"/portal/tickets/{ticket.pk}/comment/", {"note": "Thanks"}, **hx)
    assert response.status_code == 200 and b"Thanks" in response.content
    assert (
        user_client.post(f"/portal/tickets/{ticket.pk}/reopen/", {"reason": ""}, **hx).status_code
        == 400
    )
    response = user_client.post(
        f"/portal/tickets/{ticket.pk}/reopen/", {"reason": "It drops again"}, **hx
    )
    assert response.status_code == 200
    ticket.refresh_from_db()
    assert ticket.status == IncidentStatus.REOPENED
    # Confirming an open ticket is refused and changes nothing.
    response = user_client.post(f"/portal/tickets/{ticket.pk}/confirm/", **hx)
    assert response.status_code == 400
    ticket.refresh_from_db()
    assert ticket.status == IncidentStatus.REOPENED
    ticket = services.incident_resolve(
        context=ctx(agent), incident=ticket, resolution_method="fix", resolution="Antenna"
    )
    response = user_client.post(f"/portal/tickets/{ticket.pk}/confirm/", **hx)
    assert response.status_code == 200
    ticket.refresh_from_db()
    assert ticket.status == IncidentStatus.CLOSED


def test_known_errors_page_answers(user_client):
    assert user_client.get("/portal/known-errors/?q=printer").status_code == 200


def test_the_portal_needs_the_end_user_role(client, make_user):
    client.force_login(make_user(None))
    assert client.get("/portal/").status_code == 403
