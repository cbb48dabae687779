"""The CI form in a browser: attribute fields follow the type (htmx), the owner is searched."""

from __future__ import annotations

import pytest

from cmdb.models import ConfigurationItem
from itsm import roles

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def log_in(page, live_server, username, password):
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def test_type_switch_changes_fields_and_owner_is_searched(live_server, page, make_user):
    make_user(roles.CMDB_MANAGER, username="maria", password="Browser-Test-1")
    jane = make_user(None, username="jsmith", first_name="Jane", last_name="Smith")
    for i in range(30):
        make_user(None, username=f"staff{i:02}", first_name="Staff", last_name=f"Member {i}")
    log_in(page, live_server, "maria", "Browser-Test-1")

    page.goto(f"{live_server.url}/cmdb/cis/new/")
    page.wait_for_load_state("load")  # htmx (deferred) listens before the type is chosen
    assert "Choose a type" in page.inner_text("#ci-attributes")
    # The owner select holds no list of every user: Tom Select fetches them as one types.
    assert page.locator("#id_owner option").count() <= 1

    page.select_option("#id_ci_type", label="Server")
    page.wait_for_selector("#id_attr__cpu_cores")
    assert page.get_attribute("#id_attr__cpu_cores", "type") == "number"
    assert page.locator("select#id_attr__environment").count() == 1
    page.fill("#id_attr__os", "Debian 12")

    page.select_option("#id_ci_type", label="Database")
    page.wait_for_selector("#id_attr__engine")
    assert page.locator("#id_attr__cpu_cores").count() == 0
    assert "(required)" in page.inner_text("[data-field=attr__engine] label")
    # What was typed for the server's "os" moved to the other attributes, not lost.
    assert "Debian 12" in page.input_value("#id_attributes")
    page.fill("#id_attributes", "{}")

    page.fill("#id_name", "e2e-db-01")
    page.select_option("#id_attr__engine", "postgresql")
    page.fill("#id_attr__size_gb", "250")

    page.click("#id_owner-ts-control")
    page.keyboard.type("smi")
    page.click(".ts-dropdown .option:has-text('Jane Smith (jsmith)')")
    assert page.input_value("#id_owner") == str(jane.pk)

    page.click("button:has-text('Create')")
    page.wait_for_selector("h1:has-text('e2e-db-01')")
    ci = ConfigurationItem.objects.get(name="e2e-db-01")
    assert ci.owner == jane
    assert ci.attributes == {"engine": "postgresql", "size_gb": 250}
    assert not page.console_errors  # no CSP refusal, no script error


def test_relationship_other_ci_is_searched(live_server, page, make_user):
    from tests.factories import CIFactory, server_type

    make_user(roles.CMDB_MANAGER, username="maria", password="Browser-Test-1")
    kind = server_type()
    web = CIFactory(ci_type=kind, name="e2e-web-01", attributes={"os": "x"})
    db = CIFactory(
        ci_type=kind, name="e2e-db-01", hostname="db1.example.org", attributes={"os": "x"}
    )
    log_in(page, live_server, "maria", "Browser-Test-1")

    page.goto(f"{live_server.url}/cmdb/cis/{web.pk}/")
    page.click("#id_other-ts-control")
    page.keyboard.type("db1.example")
    page.click(".ts-dropdown .option:has-text('e2e-db-01')")
    page.click("button:has-text('Link')")
    page.wait_for_selector("text=Relationship added.")
    assert web.outgoing.filter(target=db).exists()
    assert not page.console_errors
