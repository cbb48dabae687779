"""The service desk, driven as people use it: an agent logs an incident with a CI found by
typing and resolves it from the incident page without a reload; an end user reports a problem
in the portal with one of their devices and finds it in "My tickets"."""

from __future__ import annotations

import re

import pytest

from cmdb.models import ConfigurationItem
from incidents.choices import IncidentStatus
from incidents.models import Incident
from itsm import roles
from tests.factories import CIFactory, server_type

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "Browser-Test-1"


def make_ci(**kwargs) -> ConfigurationItem:
    return CIFactory(ci_type=server_type(), attributes={"os": "Debian"}, **kwargs)


def log_in(page, live_server, username: str, path: str) -> None:
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}{path}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}{path}")
    page.wait_for_load_state("load")


def test_an_agent_logs_and_resolves_an_incident(live_server, page, make_user):
    make_user(roles.SERVICE_DESK, username="alice", password=PASSWORD)
    make_ci(name="ws-finance-042", hostname="ws-finance-042")
    make_ci(name="printer-hall", hostname="printer-hall")
    log_in(page, live_server, "alice", "/incidents/new/")

    # The title has the focus; the CI is found by typing part of its host name.
    assert page.evaluate("document.activeElement.id") == "id_title"
    page.keyboard.type("Excel crashes on start")
    page.click("#id_cis-ts-control")
    page.keyboard.type("finance")
    option = page.locator(".ts-dropdown [data-ci-option]", has_text="ws-finance-042")
    option.wait_for()
    option.click()
    page.select_option("#id_impact", "high")
    page.select_option("#id_urgency", "high")
    assert page.inner_text("#live-priority") == "P1"
    page.focus("#id_description")
    page.keyboard.type("Since this morning")
    page.keyboard.press("Control+Enter")  # submits the form
    page.wait_for_url(re.compile(r".*/incidents/\d+/$"))
    incident = Incident.objects.get()
    assert [ci.name for ci in incident.cis.all()] == ["ws-finance-042"]
    assert incident.priority == 1
    assert "ws-finance-042" in page.inner_text("#incident-cis")

    # Resolve from the incident page: an htmx swap, no reload.
    page.evaluate("window.__sameDocument = true")
    page.click("details[data-action=resolve] summary")
    page.select_option("details[data-action=resolve] select[name=resolution_method]", "fix")
    page.fill("details[data-action=resolve] textarea[name=resolution]", "Repaired Office")
    page.click("details[data-action=resolve] button[type=submit]")
    page.locator("#incident[data-status=resolved]").wait_for()
    assert page.evaluate("window.__sameDocument") is True
    assert "Repaired Office" in page.inner_text("#resolution")
    assert page.locator("form[data-action=close]").count() == 1
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.RESOLVED

    # Keyboard on lists: "/" focuses the search, "n" opens a new incident.
    page.goto(f"{live_server.url}/incidents/?queue=all&status=resolved")
    page.wait_for_load_state("load")
    assert incident.number in page.inner_text("#queue")
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "id_q"
    page.keyboard.press("Escape")
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("n")
    page.wait_for_url(f"{live_server.url}/incidents/new/")


def test_an_end_user_reports_a_problem_in_the_portal(live_server, page, make_user):
    user = make_user(roles.END_USER, username="erin", password=PASSWORD)
    make_ci(name="erin-laptop", hostname="erin-laptop", owner=user)
    make_ci(name="someone-elses-pc", hostname="someone-elses-pc")
    log_in(page, live_server, "erin", "/portal/")
    options = page.locator("#id_device option").all_inner_texts()
    assert any("erin-laptop" in o for o in options)
    assert not any("someone-elses-pc" in o for o in options)
    page.fill("#id_title", "My laptop does not connect to the Wi-Fi")
    page.select_option("#id_device", label=next(o for o in options if "erin-laptop" in o))
    page.check("input[name=urgency][value=high]")
    page.click("#report-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/portal/tickets/\d+/$"))
    incident = Incident.objects.get()
    assert incident.caller == user and incident.urgency == "high"
    assert [ci.name for ci in incident.cis.all()] == ["erin-laptop"]
    page.click(".nav-tabs a:has-text('My tickets')")
    page.wait_for_url(f"{live_server.url}/portal/tickets/")
    assert incident.number in page.inner_text("#my-tickets")
    assert "My laptop does not connect" in page.inner_text("#my-tickets")
