"""The incidents API: create (one and bulk), PATCH with version, workflow actions, filters,
bad input, end users' row-level access."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from incidents import services
from incidents.models import Incident, QuickLogTemplate, WorkLogEntry
from itsm import roles
from tests.factories import CIFactory
from tests.query_counts import assert_pinned, measure

from .conftest import ctx

pytestmark = pytest.mark.django_db

URL = "/api/v1/incidents/"


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def desk(agent):
    return client_for(agent)


def test_create_and_read_per_contract(desk, agent):
    ci = CIFactory(name="mail-1")
    response = desk.post(
        URL,
        {
            "title": "Mail is down",
            "severity": "severe",
            "impact": "high",
            "urgency": "medium",
            "category": "Mail",
            "cause": "configuration",
            "cis": [ci.pk],
        },
        format="json",
    )
    assert response.status_code == 201, response.data
    body = response.data
    contract = {
        "number", "title", "description", "severity", "impact", "urgency", "priority", "status",
        "category", "cause", "caller", "department", "cis", "assignee", "assignment_group",
        "resolution_method", "resolution", "response_due", "resolve_due", "sla_breached",
    }  # fmt: skip
    assert contract <= set(body)
    assert (body["priority"], body["status"], body["cis"]) == (2, "new", [ci.pk])
    assert body["caller"] == agent.pk
    assert body["number"].startswith("INC-")
    assert body["resolve_remaining_s"] > 0
    assert desk.get(f"{URL}{body['id']}/").data["number"] == body["number"]


def test_bulk_create_is_all_or_nothing(desk):
    response = desk.post(URL, [{"title": "One"}, {"title": "Two"}], format="json")
    assert response.status_code == 201
    assert [row["title"] for row in response.data] == ["One", "Two"]
    count = Incident.objects.count()
    bad = desk.post(URL, [{"title": "Three"}, {"title": "Four", "cis": [999_999]}], format="json")
    assert bad.status_code == 400
    assert Incident.objects.count() == count
    assert desk.post(URL, [], format="json").status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        {"title": ""},
        {"title": "x", "cis": [999_999]},
        {"title": "x", "cis": ["abc"]},
        {"title": "x", "impact": "enormous"},
        {"title": "x", "cause": "gremlins"},
        {"title": "x", "caller": 999_999},
    ],
)
def test_bad_input_is_a_400_and_writes_nothing(desk, body):
    count = Incident.objects.count()
    response = desk.post(URL, body, format="json")
    assert response.status_code == 400, response.data
    assert Incident.objects.count() == count


def test_patch_needs_the_current_version(desk, make_incident, agent):
    incident = make_incident(user=agent)
    url = f"{URL}{incident.pk}/"
    assert desk.patch(url, {"title": "No version"}, format="json").status_code == 400
    ok = desk.patch(url, {"title": "Renamed", "urgency": "high", "version": 1}, format="json")
    assert ok.status_code == 200, ok.data
    assert (ok.data["version"], ok.data["priority"]) == (2, 2)
    stale = desk.patch(url, {"title": "Lost", "version": 1}, format="json")
    assert stale.status_code == 409
    assert stale.data["current_version"] == 2
    assert desk.patch(url, {"status": "closed", "version": 2}, format="json").status_code == 400
    past = desk.patch(url, {"resolve_due": "2020-01-01T00:00:00Z", "version": 2}, format="json")
    assert past.status_code == 400
    assert Incident.objects.get(pk=incident.pk).title == "Renamed"


def test_workflow_actions(desk, make_incident, agent, agent2):
    incident = make_incident(user=agent)
    url = f"{URL}{incident.pk}/"
    assert desk.post(url + "assign/", {"assignee": agent2.pk}, format="json").status_code == 200
    assert desk.post(url + "start/", {}, format="json").data["status"] == "in_progress"
    assert desk.post(url + "hold/", {}, format="json").status_code == 400  # no reason
    assert desk.post(url + "hold/", {"reason": "parts"}, format="json").data["status"] == "on_hold"
    assert desk.post(url + "resume/", {}, format="json").data["status"] == "in_progress"
    refused = desk.post(url + "close/", {}, format="json")
    assert refused.status_code == 400
    assert refused.data["allowed"] == ["on_hold", "resolved"]
    no_resolution = desk.post(url + "resolve/", {"resolution_method": "fix"}, format="json")
    assert no_resolution.status_code == 400
    resolved = desk.post(
        url + "resolve/", {"resolution_method": "fix", "resolution": "Swapped"}, format="json"
    )
    assert resolved.data["status"] == "resolved"
    assert desk.post(url + "reopen/", {"reason": "again"}, format="json").data["status"] == (
        "reopened"
    )
    escalated = desk.post(url + "escalate/", {"reason": "VIP", "raise_priority": True})
    assert escalated.data["priority"] == 2
    stale = desk.post(url + "start/", {"version": 1}, format="json")
    assert stale.status_code == 409
    other = make_incident(user=agent)
    assert desk.post(url + "link/", {"related": other.pk}).data["related"] == [other.pk]
    assert desk.post(url + "link/", {"related": 999_999}).status_code == 400
    kinds = [row["kind"] for row in desk.get(url + "timeline/").data]
    assert {"created", "assigned", "status", "resolved", "reopened", "escalated"} <= set(kinds)


def test_worklog(desk, make_incident, agent):
    incident = make_incident(user=agent)
    url = f"{URL}{incident.pk}/worklog/"
    posted = desk.post(url, {"note": "Called the user", "minutes": 10}, format="json")
    assert posted.status_code == 201
    assert desk.post(url, {"note": "x", "minutes": -1}, format="json").status_code == 400
    assert desk.get(url).data["results"][0]["note"] == "Called the user"


def test_quick_log(desk, agent):
    template = QuickLogTemplate.objects.get(name="Printer jam")
    response = desk.post(URL + "quick-log/", {"template": template.pk}, format="json")
    assert response.status_code == 201, response.data
    assert (response.data["status"], response.data["source"]) == ("resolved", "quick_log")
    templates = desk.get("/api/v1/quick-log-templates/").data["results"]
    assert {"Password reset", "Printer jam"} <= {t["name"] for t in templates}


def test_filters_and_ordering(desk, make_incident, agent):
    ci = CIFactory(name="filter-ci")
    high = make_incident(user=agent, impact="high", urgency="high", cis=[ci], category="Mail")
    make_incident(user=agent, impact="low", urgency="low")
    ids = lambda r: [row["id"] for row in r.data["results"]]  # noqa: E731
    assert ids(desk.get(URL, {"priority": 1})) == [high.pk]
    assert ids(desk.get(URL, {"ci": ci.pk})) == [high.pk]
    assert ids(desk.get(URL, {"category": "mail", "status": "new"})) == [high.pk]
    assert ids(desk.get(URL, {"q": high.number})) == [high.pk]
    assert ids(desk.get(URL, {"ordering": "resolve_due"}))[0] == high.pk
    assert desk.get(URL, {"sla_breached": "false"}).status_code == 200
    assert desk.get(URL, {"created_after": "2020-01-01T00:00:00Z"}).status_code == 200
    for bad in ({"stauts": "new"}, {"status": "nope"}, {"ordering": "title"}, {"priority": 9}):
        assert desk.get(URL, bad).status_code == 400, bad


def test_sla_policies_are_readable_by_staff(desk, end_user):
    assert len(desk.get("/api/v1/sla-policies/").data["results"]) >= 5
    assert client_for(end_user).get("/api/v1/sla-policies/").status_code == 403


class TestEndUsers:
    def test_see_only_their_own(self, make_incident, end_user, other_end_user, agent):
        mine = make_incident(user=end_user)
        theirs = make_incident(user=other_end_user)
        api = client_for(end_user)
        assert [row["id"] for row in api.get(URL).data["results"]] == [mine.pk]
        assert api.get(f"{URL}{mine.pk}/").status_code == 200
        for suffix in ("", "timeline/", "worklog/"):
            assert api.get(f"{URL}{theirs.pk}/{suffix}").status_code == 404
        assert api.post(f"{URL}{theirs.pk}/worklog/", {"note": "hi"}).status_code == 404
        assert api.post(f"{URL}{theirs.pk}/reopen/", {"reason": "x"}).status_code == 404

    def test_create_for_themselves(self, end_user, agent):
        api = client_for(end_user)
        response = api.post(
            URL, {"title": "Screen flickers", "caller": agent.pk, "assignee": agent.pk}
        )
        assert response.status_code == 201
        assert (response.data["caller"], response.data["assignee"]) == (end_user.pk, None)
        assert response.data["source"] == "portal"

    def test_comment_confirm_and_nothing_else(self, make_incident, end_user, agent):
        mine = make_incident(user=end_user)
        services.worklog_add(context=ctx(agent), incident=mine, note="secret", minutes=5)
        api = client_for(end_user)
        url = f"{URL}{mine.pk}/"
        assert api.post(url + "worklog/", {"note": "Any news?"}).status_code == 201
        notes = [row["note"] for row in api.get(url + "worklog/").data["results"]]
        assert notes == ["Any news?"]
        assert "secret" not in str(api.get(url + "timeline/").data)
        for action, body in (
            ("assign/", {"assignee": agent.pk}),
            ("start/", {}),
            ("resolve/", {"resolution_method": "fix", "resolution": "x"}),
            ("close/", {}),
            ("escalate/", {"reason": "x"}),
        ):
            assert api.post(url + action, body).status_code == 403, action
        assert api.patch(url, {"title": "x", "version": 1}).status_code == 403
        assert api.post(URL + "quick-log/", {"template": 1}).status_code == 403
        services.incident_assign(context=ctx(agent), incident=mine, assignee=agent)
        services.incident_resolve(
            context=ctx(agent), incident=mine, resolution_method="fix", resolution="ok"
        )
        assert api.post(url + "confirm/", {}).data["status"] == "closed"
        assert api.post(url + "reopen/", {"reason": "broken again"}).data["status"] == "reopened"
        assert WorkLogEntry.objects.filter(incident=mine, visibility="public").count() == 1


def test_the_list_runs_a_fixed_number_of_queries(desk, make_incident, agent, make_user):
    for _ in range(3):
        make_incident(user=agent, cis=[CIFactory()], assignee=agent)
    few = measure(desk, URL)
    for _ in range(7):
        make_incident(caller=make_user(roles.END_USER), cis=[CIFactory()])
    assert measure(desk, URL) == few
    assert_pinned("api.incident_list", few)


def test_creating_one_incident_runs_a_fixed_number_of_queries(desk):
    ci = CIFactory()
    desk.post(URL, {"title": "warm"}, format="json")
    with CaptureQueriesContext(connection) as queries:
        assert (
            desk.post(URL, {"title": "Counted", "cis": [ci.pk]}, format="json").status_code == 201
        )
    assert_pinned("api.incident_create", len(queries.captured_queries))


def test_bulk_create_follows_the_single_rules(desk, agent, end_user, make_user):
    from cmdb.models import Person
    from itsm.models import AuditEntry
    from tests.factories import DepartmentFactory

    caller = make_user(None)
    Person.objects.create(user=caller, department=DepartmentFactory(name="Bulk"), job_title="PA")
    ci = CIFactory(name="bulk-ci")
    body = [
        {"title": "A", "cis": [ci.pk, ci.pk], "caller": caller.pk, "impact": "high"},
        {"title": "B", "assignee": agent.pk},
    ]
    response = desk.post(URL, body, format="json")
    assert response.status_code == 201, response.data
    a, b = response.data
    assert (a["cis"], a["caller_role"], a["priority"]) == ([ci.pk], "PA", 2)
    assert a["department"] is not None and a["resolve_due"]
    assert (b["status"], b["caller"]) == ("assigned", agent.pk)
    assert int(b["number"][4:]) == int(a["number"][4:]) + 1
    created = AuditEntry.objects.filter(kind="created", object_repr__startswith="INC-")
    assert created.filter(object_id__in=[a["id"], b["id"]]).count() == 2
    mine = client_for(end_user).post(URL, [{"title": "Mine", "caller": agent.pk}], format="json")
    assert mine.status_code == 201
    assert mine.data[0]["caller"] == end_user.pk
    foreign = client_for(end_user).post(URL, [{"title": "x", "cis": [ci.pk]}], format="json")
    assert foreign.status_code == 400


def test_numbers_in_bulk_follow_single_ones(agent):
    from incidents.services import incident_bulk_open

    first = services.incident_open(context=ctx(agent), title="one")
    many = incident_bulk_open(context=ctx(agent), items=[{"title": "x"}] * 3)
    last = services.incident_open(context=ctx(agent), title="two")
    numbers = [int(i.number[4:]) for i in [first, *many, last]]
    assert numbers == list(range(numbers[0], numbers[0] + 5))


def test_the_fast_representation_is_the_serializers(make_incident, agent, agent2):
    from django.utils import timezone

    from incidents.api.representations import incident_representation
    from incidents.api.serializers import IncidentSerializer

    incident = make_incident(user=agent, cis=[CIFactory()], assignee=agent2)
    services.incident_hold(context=ctx(agent), incident=incident, reason="parts")
    other = make_incident(user=agent)
    services.incident_link(context=ctx(agent), incident=incident, related=other)
    fresh = Incident.objects.get(pk=incident.pk)
    now = timezone.now()
    expected = IncidentSerializer(fresh, context={"now": now}).data
    assert incident_representation(fresh, now=now) == dict(expected)


def test_my_devices(end_user):
    mine = CIFactory(name="my-pc", owner=end_user)
    CIFactory(name="not-mine")
    rows = client_for(end_user).get(URL + "my-devices/").data["results"]
    assert [row["id"] for row in rows] == [mine.pk]
    assert client_for(end_user).get(URL + "my-devices/", {"x": 1}).status_code == 400
