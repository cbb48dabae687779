"""The problem, known-error and trend pages: rendering, actions from the current status only,
create from selected incidents, who sees what, constant query counts on the lists."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from incidents import problem_services as ps
from incidents.models import Incident, Problem
from itsm import roles
from tests.query_counts import assert_pinned, measure

from .analysis_data import planted
from .problem_factories import SYSTEM, make_incident, make_known_error, make_problem

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(client, make_user):
    client.force_login(make_user(roles.PROBLEM_MANAGER))
    return client


def test_create_a_problem_from_selected_incidents(client, make_user):
    client.force_login(make_user(roles.SERVICE_DESK))
    a, b = make_incident(title="Printer jams", priority=2), make_incident(priority=4)
    # the incident list posts the selection: the form comes back prefilled
    response = client.post("/problems/new/", {"incidents": [a.pk, b.pk]})
    assert response.status_code == 200
    assert response.context["form"].initial["title"] == "Printer jams"
    assert response.context["form"].initial["incidents"] == f"{a.pk}, {b.pk}"
    assert not Problem.objects.exists()
    response = client.post(
        "/problems/new/", {"title": "Jams", "priority": 2, "incidents": f"{a.pk}, {b.pk}"}
    )
    problem = Problem.objects.get()
    assert response.status_code == 302 and response.url == problem.get_absolute_url()
    assert set(problem.incidents.all()) == {a, b}
    # ?incidents=1,2 works as well
    response = client.get(f"/problems/new/?incidents={a.pk},{b.pk}")
    assert [i.pk for i in response.context["incidents"]] == [a.pk, b.pk]


def test_bad_input_shows_form_errors_and_writes_nothing(manager):
    response = manager.post("/problems/new/", {"title": "", "priority": 3})
    assert response.status_code == 200 and response.context["form"].errors
    response = manager.post("/problems/new/", {"title": "x", "priority": 3, "incidents": "abc"})
    assert response.context["form"].errors["incidents"]
    response = manager.post("/problems/new/", {"title": "x", "priority": 3, "incidents": "99999"})
    assert "Unknown incidents" in str(response.context["form"].non_field_errors())
    assert not Problem.objects.exists()


def test_the_problem_page_offers_only_allowed_actions(manager):
    problem = make_problem(incidents=[make_incident()])
    page = manager.get(problem.get_absolute_url()).content.decode()
    assert "Start investigation" in page and "Resolve problem" in page
    assert "Close</button>" not in page and "publish-form" not in page  # no cause yet
    ps.problem_record_cause(context=SYSTEM, problem_id=problem.pk, root_cause="Driver")
    page = manager.get(problem.get_absolute_url()).content.decode()
    assert "publish-form" in page and "Start investigation" not in page
    ps.problem_resolve(context=SYSTEM, problem_id=problem.pk, resolution="Fixed")
    ps.problem_close(context=SYSTEM, problem_id=problem.pk)
    page = manager.get(problem.get_absolute_url()).content.decode()
    for action in ("resolve-form", "cause-form", "link-form", "Cancel problem", "Close</button>"):
        assert action not in page


def test_actions_through_the_pages(manager):
    incidents = [make_incident(), make_incident()]
    problem = make_problem(incidents=incidents[:1])
    url = problem.get_absolute_url()
    assert manager.post(url + "link/", {"incidents": str(incidents[1].pk)}).status_code == 302
    manager.post(url + "cause/", {"root_cause": "Driver 4.1", "workaround": "Tray 2"})
    manager.post(url + "publish/", {"symptoms": "Jams", "publish": "on"})
    problem.refresh_from_db()
    assert problem.status == "known_error" and problem.known_error.published
    # resolve with one of the two open incidents ticked
    manager.post(url + "resolve/", {"resolution": "Driver 4.2", "incidents": [incidents[0].pk]})
    assert list(Incident.objects.order_by("id").values_list("status", flat=True)) == [
        "resolved",
        "new",
    ]
    manager.post(url + "close/")
    # a refused move is shown as a message, nothing changes
    for action, data in (("investigate/", {}), ("cancel/", {"reason": "dup"})):
        response = manager.post(url + action, data, follow=True)
        assert "cannot move" in response.content.decode()
        problem.refresh_from_db()
        assert problem.status == "closed"


def test_the_analysis_fragment_ranks_the_planted_cause(manager):
    crashing, _ = planted()
    problem = make_problem(incidents=[make_incident(cis=[pk]) for pk in crashing])
    response = manager.get(f"/problems/{problem.pk}/analysis/")
    rows = response.context["result"]["results"]
    assert (rows[0]["name"], rows[0]["value"]) == ("BrowserPlug", "2.3")
    assert "analysis-table" in response.content.decode()


def test_read_only_reads_but_cannot_act(client, make_user):
    client.force_login(make_user(roles.READ_ONLY))
    problem = make_problem()
    assert client.get("/problems/").status_code == 200
    page = client.get(problem.get_absolute_url()).content.decode()
    assert "cause-form" not in page
    assert client.post(problem.get_absolute_url() + "investigate/").status_code == 403
    assert client.get("/problems/new/").status_code == 403
    problem.refresh_from_db()
    assert problem.status == "new"


def test_end_users_read_published_known_errors_only(client, make_user):
    user = make_user(None)
    user.user_permissions.add(Permission.objects.get(codename="view_published_knownerror"))
    client.force_login(user)
    published = make_known_error(title="Printer jams", workaround="Tray 2", published=True)
    draft = make_known_error(title="Printer secret draft")
    page = client.get("/known-errors/?q=printer").content.decode()
    assert "Printer jams" in page and "secret draft" not in page
    assert client.get(published.get_absolute_url()).status_code == 200
    assert client.get(draft.get_absolute_url()).status_code == 404
    assert client.get("/problems/").status_code == 403
    assert client.get("/known-errors/new/").status_code == 403


def test_suggestions_fragment(client, make_user):
    client.force_login(make_user(roles.SERVICE_DESK))
    make_known_error(title="VPN drops every hour", workaround="Reconnect", published=True)
    response = client.get("/known-errors/suggest/?title=vpn%20dropping&ci=abc&category=")
    assert response.status_code == 200
    assert "VPN drops every hour" in response.content.decode()
    assert "known-error-suggestions" in response.content.decode()
    assert "VPN" not in client.get("/known-errors/suggest/?title=").content.decode()


def test_known_error_form(manager):
    response = manager.post("/known-errors/new/", {"title": ""})
    assert response.status_code == 200 and response.context["form"].errors
    response = manager.post("/known-errors/new/", {"title": "Disk full", "published": "on"})
    assert response.status_code == 302
    response = manager.get(response.url)
    assert "Disk full" in response.content.decode()


def test_the_trend_page(manager):
    make_incident(category="Printing")
    response = manager.get("/reports/trends/?group_by=category&period=day")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="trend-data"' in page and "js/trends.js" in page and "chart.umd.min.js" in page
    assert "<script>" not in page  # CSP: no inline scripts
    response = manager.get("/reports/trends/?group_by=colour")
    assert "Choose a grouping" in response.content.decode()


def test_lists_run_a_fixed_number_of_queries(manager):
    make_problem(incidents=[make_incident()])
    make_known_error(title="One", published=True)
    small = (measure(manager, "/problems/"), measure(manager, "/known-errors/"))
    for i in range(15):
        make_problem(title=f"P{i}", incidents=[make_incident(), make_incident()])
        make_known_error(title=f"KE {i}", published=True)
    large = (measure(manager, "/problems/"), measure(manager, "/known-errors/"))
    assert small == large
    assert_pinned("incidents.problem_list", large[0])
    assert_pinned("incidents.known_error_list", large[1])
    assert_pinned("api.problem_list", measure(manager, "/api/v1/problems/"))


def test_admin_pages_are_read_only(client, django_user_model):
    admin = django_user_model.objects.create_superuser("root", "root@example.org", "pw-Secret-1")
    client.force_login(admin)
    problem = make_problem(incidents=[make_incident()])
    known_error = make_known_error(published=True)
    for url in (
        "/admin/incidents/problem/",
        f"/admin/incidents/problem/{problem.pk}/change/",
        "/admin/incidents/knownerror/",
        f"/admin/incidents/knownerror/{known_error.pk}/change/",
        "/admin/incidents/incidentdailycount/",
    ):
        assert client.get(url).status_code == 200, url
    assert client.get("/admin/incidents/problem/add/").status_code == 403
