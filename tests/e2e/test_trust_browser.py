"""The trust forms, driven as a user would, at desktop and phone width: API tokens (create, use,
revoke), a held report's binding (approve, refuse), and the collector flag of an agent."""

from __future__ import annotations

import pytest

from agents.choices import ReportStatus
from agents.models import Agent
from cmdb.models import ConfigurationItem
from itsm import roles
from tests.agents.conftest import make_agent, native_report
from tests.agents.test_reconcile import submit

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "Browser-Test-1"
WIDTHS = [1280, 390]
INTRUDER = dict(hostname="evil-01", uuid="9b1de9a4-6f0e-4f8e-9d61-0a0a0a0a0a0a", packages=1)


def log_in(page, live_server, make_user, width: int, path: str):
    page.set_viewport_size({"width": width, "height": 900})
    make_user(roles.CMDB_MANAGER, username="maria", password=PASSWORD)
    page.goto(f"{live_server.url}{path}")
    page.fill("#id_username", "maria")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}{path}")


def fits(page, width: int) -> None:
    assert page.evaluate("document.scrollingElement.scrollWidth") <= width


@pytest.mark.parametrize("width", WIDTHS)
def test_an_api_token_is_created_used_and_revoked(live_server, page, make_user, width):
    log_in(page, live_server, make_user, width, "/account/tokens/")
    fits(page, width)
    page.fill("#id_name", "nightly export")
    page.click("#token-form button[type=submit]")
    key = page.input_value("#token-key")
    assert len(key) > 30
    api = f"{live_server.url}/api/v1/cmdb/cis/"
    auth = {"Authorization": f"Token {key}"}
    assert page.request.get(api, headers=auth).status == 200
    # The key is shown once, in the answer to the POST (never stored in clear, not even in the
    # session): opening the page again shows the token without it.
    page.goto(f"{live_server.url}/account/tokens/")
    assert page.locator("#token-key").count() == 0
    assert "nightly export" in page.inner_text("main")
    page.click("button[aria-label='Revoke nightly export']")
    page.wait_for_load_state("load")
    assert page.request.get(api, headers=auth).status == 401
    fits(page, width)


@pytest.mark.parametrize("width", WIDTHS)
def test_a_held_report_is_approved_in_the_discrepancy_list(live_server, page, make_user, width):
    owner = make_agent(name="web-01")
    assert submit(owner, native_report(packages=3)).status == ReportStatus.PROCESSED
    ci = ConfigurationItem.objects.get()
    newcomer = make_agent(name="reinstalled")
    assert submit(newcomer, native_report(**INTRUDER)).status == ReportStatus.HELD

    log_in(page, live_server, make_user, width, "/agents/discrepancies/")
    fits(page, width)
    row = page.locator("tr", has_text="Report held")
    row.locator("input[name=resolution]").fill("Machine reinstalled by IT")
    row.locator("button:has-text('Approve binding')").click()
    page.wait_for_load_state("load")
    assert page.locator("button:has-text('Approve binding')").count() == 0
    ci.refresh_from_db()
    assert ci.hostname == "evil-01"  # the held report was applied
    assert Agent.objects.get(pk=newcomer.agent.pk).ci_id == ci.pk
    assert Agent.objects.get(pk=owner.agent.pk).ci_id is None


@pytest.mark.parametrize("width", WIDTHS)
def test_a_held_report_is_refused_from_the_agent_page(live_server, page, make_user, width):
    owner = make_agent(name="web-01")
    submit(owner, native_report(packages=3))
    ci = ConfigurationItem.objects.get()
    intruder = make_agent(name="intruder")
    submit(intruder, native_report(**INTRUDER))

    log_in(page, live_server, make_user, width, f"/agents/{intruder.agent.pk}/")
    fits(page, width)
    page.locator("#agent-holds button:has-text('Refuse')").click()
    page.wait_for_load_state("load")
    assert page.locator("#agent-holds").count() == 0
    ci.refresh_from_db()
    assert ci.hostname == "web-01.example.org"
    assert Agent.objects.get(pk=intruder.agent.pk).ci_id is None


@pytest.mark.parametrize("width", WIDTHS)
def test_an_agent_is_made_a_collector(live_server, page, make_user, width):
    agent = make_agent(name="snmp-poller").agent
    log_in(page, live_server, make_user, width, f"/agents/{agent.pk}/")
    fits(page, width)
    page.check("#agent-update input[name=is_collector]")
    page.click("#agent-update button[type=submit]")
    page.wait_for_load_state("load")
    assert "yes: may report other devices" in page.inner_text("main")
    assert Agent.objects.get(pk=agent.pk).is_collector
