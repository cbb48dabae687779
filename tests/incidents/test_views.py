"""Help-desk pages: queues, the logging form, every action of the incident page through HTML
(allowed, refused with the error shown and nothing changed, forbidden), the classification
edit with its version check, work log, links, quick log, bulk assignment, saved filters."""

from __future__ import annotations

import pytest

from cmdb.models import Person
from incidents import services
from incidents.choices import IncidentStatus
from incidents.models import Incident, QuickLogTemplate, SavedFilter, WorkLogEntry
from itsm import roles
from tests.factories import CIFactory, DepartmentFactory, server_type

from .conftest import ctx

pytestmark = pytest.mark.django_db


def make_ci(**kwargs):
    return CIFactory(ci_type=server_type(), attributes={"os": "Debian"}, **kwargs)


HX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "incident"}


@pytest.fixture
def agent_client(client, agent):
    client.force_login(agent)
    return client


def test_queues_show_my_team_unassigned_and_all_sorted_by_sla(agent_client, agent, make_incident):
    mine = make_incident(user=agent, title="Mine", assignee=agent)
    loose = make_incident(user=agent, title="Nobody's")
    Incident.objects.filter(pk=loose.pk).update(sla_breached=True)
    group = agent.groups.get()
    team = make_incident(user=agent, title="Team's", assignment_group=group)
    page = agent_client.get("/incidents/?queue=mine").content.decode()
    assert mine.number in page and loose.number not in page
    assert team.number in agent_client.get("/incidents/?queue=team").content.decode()
    unassigned = agent_client.get("/incidents/?queue=unassigned").content.decode()
    assert loose.number in unassigned and mine.number not in unassigned
    counts = agent_client.get("/incidents/counts/", HTTP_HX_REQUEST="true").content.decode()
    assert 'id="count-mine" hx-swap-oob="true">1<' in counts
    assert 'id="count-all" hx-swap-oob="true">3<' in counts
    everything = agent_client.get("/incidents/?queue=all").content.decode()
    # Breached first.
    assert everything.index(loose.number) < everything.index(mine.number)
    assert 'data-sla="danger"' in everything


def test_queue_quick_filters_search_and_htmx_table(agent_client, agent, make_incident):
    printer = make_incident(user=agent, title="Printer jammed", category="printing")
    mail = make_incident(user=agent, title="Mail down", impact="high", urgency="high")
    body = agent_client.get("/incidents/?queue=all&q=printer").content.decode()
    assert printer.number in body and mail.number not in body
    body = agent_client.get("/incidents/?queue=all&priority=1").content.decode()
    assert mail.number in body and printer.number not in body
    body = agent_client.get("/incidents/?queue=all&category=Printing").content.decode()
    assert printer.number in body and mail.number not in body
    response = agent_client.get(
        "/incidents/?queue=all&q=mail", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="queue-table"
    )
    assert response.status_code == 200
    assert b"<html" not in response.content and mail.number.encode() in response.content
    # A bad filter value lists nothing and says why, no 500.
    assert agent_client.get("/incidents/?queue=all&priority=9").status_code == 200


def test_logging_form_logs_with_caller_cis_and_assignment(agent_client, agent, make_user):
    caller = make_user(roles.END_USER, first_name="Ann")
    Person.objects.create(user=caller, department=DepartmentFactory(name="Finance"))
    ci = make_ci(owner=caller)
    response = agent_client.post(
        "/incidents/new/",
        {
            "title": "Laptop does not boot",
            "caller": caller.pk,
            "cis": [ci.pk],
            "category": "hardware",
            "severity": "moderate",
            "impact": "high",
            "urgency": "high",
            "assign_to_me": "on",
        },
    )
    incident = Incident.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/incidents/{incident.pk}/"
    assert incident.caller == caller and incident.department.name == "Finance"
    assert list(incident.cis.all()) == [ci]
    assert incident.assignee == agent and incident.status == IncidentStatus.ASSIGNED
    assert incident.priority == 1


def test_logging_form_shows_errors_and_writes_nothing(agent_client):
    response = agent_client.post("/incidents/new/", {"title": "", "impact": "huge"})
    assert response.status_code == 400
    assert b"invalid-feedback" in response.content
    assert not Incident.objects.exists()


def test_caller_card_shows_the_department(agent_client, make_user):
    caller = make_user(roles.END_USER, first_name="Bob")
    Person.objects.create(user=caller, department=DepartmentFactory(name="Sales"))
    body = agent_client.get(f"/incidents/lookup/caller/?caller={caller.pk}").content.decode()
    assert "Sales" in body and "Bob" in body


def test_ci_lookup_lists_the_callers_devices_first(agent_client, make_user):
    caller = make_user(roles.END_USER)
    other = make_ci(name="aaa-desk", hostname="aaa-desk")
    own = make_ci(name="zzz-desk", hostname="zzz-desk", owner=caller)
    rows = agent_client.get(f"/incidents/lookup/cis/?q=desk&caller={caller.pk}").json()["results"]
    assert [r["id"] for r in rows] == [own.pk, other.pk]
    assert rows[0]["own"] is True
    by_serial = agent_client.get(f"/incidents/lookup/cis/?q={own.serial_number}").json()
    if own.serial_number:
        assert [r["id"] for r in by_serial["results"]] == [own.pk]


def _post(client, incident, action, data=None, htmx=True):
    payload = {"version": Incident.objects.get(pk=incident.pk).version, **(data or {})}
    return client.post(f"/incidents/{incident.pk}/{action}/", payload, **(HX if htmx else {}))


def test_every_action_through_the_incident_page(agent_client, agent, make_incident):
    incident = make_incident(user=agent)
    page = agent_client.get(f"/incidents/{incident.pk}/").content.decode()
    assert 'data-action="start"' in page and 'data-action="close"' not in page
    steps = [
        ("take", {}, IncidentStatus.ASSIGNED),
        ("start", {}, IncidentStatus.IN_PROGRESS),
        ("hold", {"reason": "Waiting for the caller"}, IncidentStatus.ON_HOLD),
        ("resume", {}, IncidentStatus.IN_PROGRESS),
        ("resolve", {"resolution_method": "fix", "resolution": "Replaced"}, "resolved"),
        ("reopen", {"reason": "Still broken"}, IncidentStatus.REOPENED),
        ("resolve", {"resolution_method": "fix", "resolution": "Really fixed"}, "resolved"),
        ("close", {}, IncidentStatus.CLOSED),
    ]
    for action, data, status in steps:
        response = _post(agent_client, incident, action, data)
        assert response.status_code == 200, (action, response.content[:500])
        assert b"<html" not in response.content  # the page part, swapped by htmx
        assert f'data-status="{status}"'.encode() in response.content
        assert Incident.objects.get(pk=incident.pk).status == status


def test_escalate_from_the_page(agent_client, agent, make_incident):
    incident = make_incident(user=agent, impact="medium", urgency="medium")
    response = _post(agent_client, incident, "escalate", {"reason": "VIP", "raise_priority": "on"})
    assert response.status_code == 200
    assert Incident.objects.get(pk=incident.pk).priority == 2


def test_a_refused_move_is_shown_and_changes_nothing(agent_client, agent, make_incident):
    incident = make_incident(user=agent)
    before = Incident.objects.get(pk=incident.pk)
    response = _post(agent_client, incident, "close")
    assert response.status_code == 400
    assert b'id="action-error"' in response.content
    after = Incident.objects.get(pk=incident.pk)
    assert (after.status, after.version) == (before.status, before.version)
    # Resolving without a resolution: the form error, nothing written.
    response = _post(agent_client, incident, "resolve", {"resolution_method": "fix"})
    assert response.status_code == 400 and b"invalid-feedback" in response.content
    assert Incident.objects.get(pk=incident.pk).status == IncidentStatus.NEW
    # Without htmx the whole page answers with the error.
    response = _post(agent_client, incident, "close", htmx=False)
    assert response.status_code == 400 and b"<html" in response.content
    assert agent_client.post(f"/incidents/{incident.pk}/explode/").status_code == 404


def test_a_stale_action_is_a_409_and_changes_nothing(agent_client, agent, make_incident):
    incident = make_incident(user=agent)
    response = agent_client.post(
        f"/incidents/{incident.pk}/hold/",
        {"version": incident.version - 1 or 99, "reason": "x"},
        **HX,
    )
    assert response.status_code == 409
    assert Incident.objects.get(pk=incident.pk).status == IncidentStatus.NEW


def test_actions_need_their_permission(client, make_user, make_incident, agent):
    incident = make_incident(user=agent)
    reader = make_user(roles.READ_ONLY)
    client.force_login(reader)
    assert client.get(f"/incidents/{incident.pk}/").status_code == 200
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert 'data-action="resolve"' not in page
    for action in ("take", "start", "resolve", "escalate"):
        assert (
            _post(client, incident, action, {"resolution": "x", "reason": "x"}).status_code == 403
        )
    assert client.post(f"/incidents/{incident.pk}/worklog/", {"note": "x"}).status_code == 403
    assert client.get("/incidents/new/").status_code == 403
    assert Incident.objects.get(pk=incident.pk).status == IncidentStatus.NEW
    end_user = make_user(roles.END_USER)
    client.force_login(end_user)
    assert client.get("/incidents/").status_code == 403
    assert client.get(f"/incidents/{incident.pk}/").status_code == 403


def test_classification_edit_with_version_check(agent_client, agent, make_incident):
    incident = make_incident(user=agent, category="mail")
    ci = make_ci()
    form = agent_client.get(f"/incidents/{incident.pk}/edit/", HTTP_HX_REQUEST="true")
    assert b'name="version"' in form.content
    data = {
        "title": "Mail down for all",
        "category": "email",
        "cause": "configuration",
        "severity": "severe",
        "impact": "high",
        "urgency": "high",
        "cis": [ci.pk],
        "version": incident.version,
    }
    assert agent_client.post(f"/incidents/{incident.pk}/edit/", data, **HX).status_code == 200
    incident.refresh_from_db()
    assert (incident.category, incident.priority, incident.title) == (
        "email",
        1,
        "Mail down for all",
    )
    assert list(incident.cis.all()) == [ci]
    page = agent_client.get(f"/incidents/{incident.pk}/").content.decode()
    assert f'href="/cmdb/cis/{ci.pk}/"' in page and f"/cmdb/cis/{ci.pk}/impact/" in page
    # The same form again: stale, refused with a message, the typed values kept.
    data["category"] = "outlook"
    response = agent_client.post(f"/incidents/{incident.pk}/edit/", data, **HX)
    assert response.status_code == 409
    assert b"Someone changed this incident" in response.content
    assert b'value="outlook"' in response.content
    incident.refresh_from_db()
    assert incident.category == "email"


def test_worklog_and_link(agent_client, agent, make_incident):
    incident = make_incident(user=agent)
    other = make_incident(user=agent, title="Same problem")
    response = agent_client.post(
        f"/incidents/{incident.pk}/worklog/",
        {"note": "Called the user", "minutes": "15", "public": "on"},
        **HX,
    )
    assert response.status_code == 200 and b"Called the user" in response.content
    entry = WorkLogEntry.objects.get(incident=incident)
    assert entry.minutes == 15 and entry.public
    assert (
        agent_client.post(f"/incidents/{incident.pk}/worklog/", {"note": ""}, **HX).status_code
        == 400
    )
    response = agent_client.post(f"/incidents/{incident.pk}/link/", {"number": other.number}, **HX)
    assert response.status_code == 200 and other.number.encode() in response.content
    assert list(incident.related.all()) == [other]
    response = agent_client.post(f"/incidents/{incident.pk}/link/", {"number": "INC-NOPE"}, **HX)
    assert response.status_code == 400 and b"No incident INC-NOPE" in response.content


def test_timeline_shows_who_what_and_through_which_interface(
    agent_client, agent, make_incident, end_user
):
    incident = make_incident(user=agent, caller=end_user, assignee=agent)
    services.incident_start(context=ctx(agent), incident=incident)
    services.incident_hold(context=ctx(agent), incident=incident, reason="Parts ordered")
    page = agent_client.get(f"/incidents/{incident.pk}/").content.decode()
    assert agent.username in page and "Parts ordered" in page and "status" in page
    assert "via user" in page  # through which interface
    assert f"Caller: {end_user.username}" in page  # names, not ids


def test_quick_log_logs_and_resolves_in_one_click(agent_client, agent):
    template = QuickLogTemplate.objects.filter(active=True).first() or (
        QuickLogTemplate.objects.create(
            name="Password reset",
            title="Password reset",
            resolution_method="fix",
            resolution="Password reset, user informed",
        )
    )
    assert template.name.encode() in agent_client.get("/incidents/new/").content
    response = agent_client.post(f"/incidents/quick-log/{template.pk}/")
    incident = Incident.objects.get()
    assert response.status_code == 302
    assert incident.status == IncidentStatus.RESOLVED and incident.source == "quick_log"


def test_bulk_assign_to_me(agent_client, agent, make_incident):
    a, b = make_incident(user=agent), make_incident(user=agent)
    done = make_incident(user=agent)
    services.incident_resolve(
        context=ctx(agent), incident=done, resolution_method="fix", resolution="x"
    )
    response = agent_client.post(
        "/incidents/bulk/assign-to-me/", {"incidents": [a.pk, b.pk, done.pk]}, follow=True
    )
    assert response.status_code == 200
    assert set(Incident.objects.filter(assignee=agent).values_list("pk", flat=True)) == {a.pk, b.pk}
    assert done.number.encode() in response.content  # the refusal is listed


def test_queue_shows_problem_bulk_action_to_who_may_raise_problems(client, make_user):
    """Problem Managers and the Service Desk (which may raise a problem from incidents) see
    "Create problem from selected"; a read-only user does not."""
    for role in (roles.PROBLEM_MANAGER, roles.SERVICE_DESK):
        client.force_login(make_user(role))
        assert b'formaction="/problems/new/"' in client.get("/incidents/?queue=all").content
    client.force_login(make_user(roles.READ_ONLY))
    response = client.get("/incidents/?queue=all")
    assert response.status_code == 200
    assert b'formaction="/problems/new/"' not in response.content


def test_saved_filters_are_per_user(agent_client, agent, make_user, client):
    response = agent_client.post(
        "/incidents/filters/save/", {"name": "Breached P1", "query": "queue=all&priority=1&page=3"}
    )
    assert response.status_code == 302
    saved = SavedFilter.objects.get(owner=agent)
    assert saved.query == "queue=all&priority=1"
    assert b"Breached P1" in agent_client.get("/incidents/").content
    assert agent_client.post("/incidents/filters/save/", {"name": ""}).status_code == 302
    assert SavedFilter.objects.count() == 1
    other = make_user(roles.SERVICE_DESK)
    agent_client.force_login(other)
    assert b"Breached P1" not in agent_client.get("/incidents/").content
    assert agent_client.post(f"/incidents/filters/{saved.pk}/delete/").status_code == 404
    agent_client.force_login(agent)
    assert agent_client.post(f"/incidents/filters/{saved.pk}/delete/").status_code == 302
    assert not SavedFilter.objects.exists()


def test_staff_see_the_queue_card_end_users_land_on_the_portal(client, agent, make_user):
    client.force_login(agent)
    home = client.get("/")
    assert home.status_code == 200 and b"incident-queues-card" in home.content
    client.force_login(make_user(roles.END_USER))
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/portal/"
