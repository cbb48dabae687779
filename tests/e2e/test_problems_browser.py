"""Browser journey of problem management: a problem page loads its root-cause table (htmx),
the cause is recorded and published, the problem resolved with one of its incidents ticked;
the trend page draws its chart under the CSP (no console error)."""

from __future__ import annotations

import pytest

from incidents import trends
from incidents.models import Incident
from itsm import roles
from tests.incidents.analysis_data import planted
from tests.incidents.problem_factories import make_incident, make_problem

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "Browser-Test-1"


def log_in(page, live_server, make_user, path: str) -> None:
    make_user(roles.PROBLEM_MANAGER, username="pat", password=PASSWORD)
    page.goto(f"{live_server.url}{path}")
    page.fill("#id_username", "pat")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}{path}")


def test_a_problem_from_analysis_to_resolution(live_server, page, make_user):
    crashing, _ = planted()
    incidents = [make_incident(cis=[pk], title="Browser crashes") for pk in crashing[:12]]
    problem = make_problem(title="Browser crashes on start", incidents=incidents)
    log_in(page, live_server, make_user, problem.get_absolute_url())

    page.wait_for_selector("#analysis-table tbody tr")
    first = page.locator("#analysis-table tbody tr").first.inner_text()
    assert "BrowserPlug" in first and "2.3" in first

    page.fill("#cause-form textarea[name=root_cause]", "Plug-in 2.3 crashes the browser")
    page.fill("#cause-form textarea[name=workaround]", "Disable the plug-in")
    page.click("#cause-form button[type=submit]")
    page.wait_for_selector("#root-cause:has-text('Plug-in 2.3')")
    page.click("#publish-form button[type=submit]")
    page.wait_for_selector("#problem-status:has-text('Known error')")

    boxes = page.locator("#resolve-form input[name=incidents]")
    assert boxes.count() == 12
    for i in range(1, 12):  # keep only the first one ticked
        boxes.nth(i).uncheck()
    page.fill("#resolve-form textarea[name=resolution]", "Plug-in 2.4 rolled out")
    page.click("#resolve-form button[type=submit]")
    page.wait_for_selector("#problem-status:has-text('Resolved')")
    statuses = list(Incident.objects.order_by("id").values_list("status", flat=True))
    assert statuses.count("resolved") == 1
    assert not page.console_errors


def test_the_trend_chart_is_drawn(live_server, page, make_user):
    for _ in range(3):
        make_incident(category="Printing")
    trends.refresh()
    log_in(page, live_server, make_user, "/reports/trends/?group_by=category&period=day")
    page.wait_for_function(
        "() => { const c = document.getElementById('trend-chart');"
        " return c && window.Chart && Chart.getChart(c) !== undefined; }"
    )
    assert page.locator("#trend-table").inner_text().count("Printing") == 1
    assert not page.console_errors, page.console_errors
