"""First browser journey: log in, create a CI, find it in the list, move it to production."""

from __future__ import annotations

import pytest

from cmdb.models import ConfigurationItem, StatusChange
from itsm import roles

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_create_find_and_move_a_ci_to_production(live_server, page, make_user):
    make_user(roles.CMDB_MANAGER, username="maria", password="Browser-Test-1")
    page.goto(f"{live_server.url}/cmdb/cis/")
    assert "/login/" in page.url

    page.fill("#id_username", "maria")
    page.fill("#id_password", "Browser-Test-1")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/cmdb/cis/")

    page.click("text=New CI")
    page.wait_for_url(f"{live_server.url}/cmdb/cis/new/")
    page.wait_for_load_state("load")  # htmx (deferred) listens before the type is chosen
    page.fill("#id_name", "e2e-web-01")
    page.select_option("#id_ci_type", label="Server")
    page.wait_for_selector("#id_attr__environment")  # the type's attribute fields arrived
    page.fill("#id_hostname", "e2e-web-01.example.org")
    page.fill("#id_serial_number", "E2E-0001")
    page.fill("#id_attributes", '{"environment": "nowhere"}')
    page.click("button:has-text('Create')")
    # The schema refuses the attribute: the error is visible and nothing was created.
    assert page.locator(".invalid-feedback").first.is_visible()
    assert "is not one of" in page.content()
    assert not ConfigurationItem.objects.filter(name="e2e-web-01").exists()

    page.fill("#id_attributes", '{"environment": "production", "os": "Debian 12"}')
    page.click("button:has-text('Create')")
    page.wait_for_selector("h1:has-text('e2e-web-01')")

    page.goto(f"{live_server.url}/cmdb/cis/")
    page.fill("#id_q", "e2e-web")
    page.press("#id_q", "Enter")
    page.wait_for_selector("#ci-table a:has-text('e2e-web-01')")
    assert page.locator("#ci-table tbody tr").count() == 1
    page.click("#ci-table a:has-text('e2e-web-01')")

    # Only allowed moves are offered: ordered → received → under test → production.
    for move in ["received", "under_test", "production"]:
        assert page.locator("button[data-move=production]").count() == (
            1 if move == "production" else 0
        )
        page.click(f"button[data-move={move}]")
        page.wait_for_selector(f"#ci-status.status-{move}")

    ci = ConfigurationItem.objects.get(name="e2e-web-01")
    assert ci.status == "production"
    assert list(
        StatusChange.objects.filter(ci=ci).order_by("at").values_list("to_status", flat=True)
    ) == [
        "received",
        "under_test",
        "production",
    ]
    # The only failed response is the form refused on purpose above (a 400 with its errors).
    assert [(s, m) for s, m, _ in page.failed_responses] == [(400, "POST")], page.failed_responses
    assert not [e for e in page.console_errors if "status of 400" not in e], page.console_errors
