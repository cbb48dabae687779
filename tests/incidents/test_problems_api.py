"""The problem API: who may call each route (matrix from the router), the workflow through
HTTP, refusals as 400/409 with nothing written."""

from __future__ import annotations

import pytest

from incidents.api.urls import router
from incidents.models import Incident, Problem
from itsm import roles
from tests.permission_matrix import Matrix

from .problem_factories import make_incident, make_known_error, make_problem

pytestmark = pytest.mark.django_db

STAFF = {name for name in roles.ROLE_PERMISSIONS if name != "End User"}


# The service desk may raise a problem; the comparison is a read sent as a POST; end users
# read published known errors only.
MATRIX = Matrix(
    router=router,
    prefix="/api/v1/",
    objects={
        "problem": lambda: make_problem(),
        "knownerror": lambda: make_known_error(published=True),
    },
    writers={roles.PROBLEM_MANAGER},
    readers={
        "problem": STAFF,
        "report": STAFF,
        "knownerror": set(roles.ROLE_PERMISSIONS),
    },
    queries={"GET report.trends": "group_by=category&period=week"},
    route_writers={
        "POST problem.create": {roles.PROBLEM_MANAGER, roles.SERVICE_DESK},
        "POST report.compare": STAFF,
    },
)
# Routes of this router only (a merged router also carries the incidents' own routes, which
# their own matrix covers).
OUR_BASENAMES = {"problem", "knownerror", "report"}
ROUTES = [r for r in MATRIX.routes if r.basename in OUR_BASENAMES]


@pytest.mark.parametrize("caller", MATRIX.callers)
@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_permission_matrix(route, caller, make_user):
    MATRIX.check(route, caller, make_user)


def test_the_matrix_covers_every_route():
    names = {str(route) for route in ROUTES}
    assert {
        "GET problem.list",
        "POST problem.create",
        "POST problem.resolve",
        "GET problem.analysis",
        "GET knownerror.suggest",
        "GET report.trends",
        "POST report.compare",
    } <= names


@pytest.fixture
def manager(make_user, api_client):
    api_client.force_authenticate(make_user(roles.PROBLEM_MANAGER))
    return api_client


def test_the_workflow_through_the_api(manager):
    incidents = [make_incident(category="Printing") for _ in range(3)]
    response = manager.post(
        "/api/v1/problems/",
        {"title": "Printers jam", "incidents": [i.pk for i in incidents[:2]]},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "new" and body["incidents"] == sorted(i.pk for i in incidents[:2])
    assert set(body) >= {"title", "incidents", "status", "root_cause", "workaround", "known_error"}
    url = f"/api/v1/problems/{body['id']}/"
    assert manager.post(url + "link/", {"incidents": [incidents[2].pk]}, format="json").json()[
        "incidents"
    ] == sorted(i.pk for i in incidents)
    response = manager.post(
        url + "cause/", {"root_cause": "Driver 4.1", "workaround": "Tray 2"}, format="json"
    )
    assert response.json()["status"] == "under_investigation"
    response = manager.post(url + "publish/", {"symptoms": "Jams"}, format="json")
    assert response.status_code == 201 and response.json()["published"] is True
    assert manager.get(url).json()["known_error"] == response.json()["id"]
    response = manager.post(
        url + "resolve/",
        {"resolution": "Driver 4.2", "resolve_incidents": True, "incidents": [incidents[0].pk]},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "resolved"
    assert Incident.objects.get(pk=incidents[0].pk).status == "resolved"
    assert Incident.objects.get(pk=incidents[1].pk).status == "new"
    assert manager.post(url + "close/").json()["status"] == "closed"
    # closed is final: a refused move says why and writes nothing
    response = manager.post(url + "investigate/")
    assert response.status_code == 400
    assert "cannot move" in response.json()["detail"]


def test_bad_input_is_a_400_and_writes_nothing(manager):
    before = Problem.objects.count()
    for body in [
        {},
        {"title": ""},
        {"title": "x", "incidents": [999_999]},
        {"title": "x", "priority": 9},
    ]:
        assert manager.post("/api/v1/problems/", body, format="json").status_code == 400
    assert Problem.objects.count() == before
    problem = make_problem()
    url = f"/api/v1/problems/{problem.pk}/"
    assert manager.post(url + "cancel/", {}, format="json").status_code == 400
    assert manager.post(url + "resolve/", {"resolution": ""}, format="json").status_code == 400
    assert manager.post(url + "publish/", {}, format="json").status_code == 400  # no cause yet
    assert manager.patch(url, {"title": "New", "version": 99}, format="json").status_code == 409
    assert manager.patch(url, {"status": "closed"}, format="json").json()["status"] == "new"
    assert manager.get("/api/v1/problems/?colour=red").status_code == 400
    assert manager.get("/api/v1/problems/?ordering=secret").status_code == 400


def test_list_filters_and_search(manager):
    incident = make_incident()
    a = make_problem(title="Printers jam", incidents=[incident])
    make_problem(title="VPN drops", priority=1)
    assert [r["id"] for r in manager.get("/api/v1/problems/?q=printers").json()["results"]] == [
        a.pk
    ]
    assert manager.get(f"/api/v1/problems/?incident={incident.pk}").json()["count"] == 1
    assert manager.get("/api/v1/problems/?priority=1").json()["count"] == 1
    assert manager.get("/api/v1/problems/?status=new&page_size=1").json()["count"] == 2
