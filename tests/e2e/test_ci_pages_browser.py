"""Browser journeys of the CI pages (issue 6): the list's filter form and its CSV export, a
lifecycle move with its reason, and a phone-sized screen (390 px)."""

from __future__ import annotations

import csv
import io

import pytest

from cmdb import services
from cmdb.models import CIType, ConfigurationItem
from itsm import roles
from tests.factories import SYSTEM, CIFactory, link

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "Browser-Test-1"


def log_in(page, live_server, make_user, *, path="/cmdb/cis/"):
    make_user(roles.CMDB_MANAGER, username="maria", password=PASSWORD)
    page.goto(f"{live_server.url}{path}")
    page.fill("#id_username", "maria")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}{path}")


def rows(page) -> list[str]:
    return page.locator("#ci-table tbody td.ci-name").all_inner_texts()


def make_fleet():
    server = CIType.objects.get(slug="server")
    laptop = CIType.objects.get(slug="laptop")
    web1 = CIFactory(name="web-01", ci_type=server)
    web2 = CIFactory(name="web-02", ci_type=server)
    CIFactory(name="web-laptop", ci_type=laptop)
    CIFactory(name="db-01", ci_type=server)
    for ci in (web1, web2):
        services.software_replace(
            context=SYSTEM, ci=ci, items=[{"name": "nginx", "version": "1.24"}]
        )
    for status in ("received", "under_test", "production"):
        services.ci_transition(context=SYSTEM, ci_id=web1.pk, to_status=status)
    services.ci_transition(context=SYSTEM, ci_id=web2.pk, to_status="received")


def test_the_filter_form_filters_and_exports_what_it_shows(live_server, page, make_user):
    make_fleet()
    log_in(page, live_server, make_user)
    assert sorted(rows(page)) == ["db-01", "web-01", "web-02", "web-laptop"]

    # A select submits the form at once (htmx); the empty "All …" options must not spoil it.
    with page.expect_response(lambda r: "/cmdb/cis/?" in r.url) as first:
        page.select_option("#id_ci_type", label="Server")
    assert first.value.status == 200
    page.wait_for_selector("#ci-table:not(:has-text('web-laptop'))")
    assert sorted(rows(page)) == ["db-01", "web-01", "web-02"]
    assert "Some filters are invalid" not in page.content()

    with page.expect_response(lambda r: "status=production" in r.url):
        page.select_option("#id_status", label="Production")
    page.wait_for_selector("#ci-table:not(:has-text('db-01'))")
    assert rows(page) == ["web-01"]

    page.select_option("#id_status", label="All statuses")
    page.wait_for_selector("#ci-table:has-text('db-01')")
    page.fill("#id_q", "web")
    page.fill("#id_software", "nginx")
    with page.expect_response(lambda r: "software=nginx" in r.url):
        page.click("#ci-filters button[type=submit]")
    page.wait_for_selector("#ci-table:not(:has-text('db-01'))")
    assert sorted(rows(page)) == ["web-01", "web-02"]
    assert page.locator("#ci-count").inner_text() == "2 configuration items"
    assert "Some filters are invalid" not in page.content()
    # The address follows the filters (a reload or a shared link shows the same list).
    assert "ci_type=server" in page.url and "software=nginx" in page.url

    # Export CSV of what is shown: a 200 with exactly these rows.
    href = page.get_attribute("#export-csv", "href")
    assert "software=nginx" in href and "ci_type=server" in href
    with page.expect_download() as download_info:
        page.click("#export-csv")
    download = download_info.value
    assert download.failure() is None
    with open(download.path(), encoding="utf-8") as handle:
        exported = sorted(row["name"] for row in csv.DictReader(handle))
    assert exported == ["web-01", "web-02"]
    answer = page.context.request.get(f"{live_server.url}{href}")
    assert answer.status == 200 and answer.headers["content-type"].startswith("text/csv")
    assert sorted(r["name"] for r in csv.DictReader(io.StringIO(answer.text()))) == exported

    assert not page.failed_responses, page.failed_responses
    assert not page.console_errors, page.console_errors


def test_disposal_asks_for_a_reason(live_server, page, make_user):
    ci = CIFactory(name="old-box", ci_type=CIType.objects.get(slug="server"))
    log_in(page, live_server, make_user, path=f"/cmdb/cis/{ci.pk}/")
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    assert page.locator("#id_transition_reason").is_visible()

    page.click("button[data-move=disposed]")  # no reason: the browser holds the form back
    assert page.evaluate("document.getElementById('id_transition_reason').validity.valid") is False
    assert ConfigurationItem.objects.get(pk=ci.pk).status == "ordered" and not dialogs

    page.fill("#id_transition_reason", "never delivered")
    page.click("button[data-move=disposed]")
    page.wait_for_selector("#ci-status.status-disposed")
    assert dialogs == ["Dispose of old-box? This is final."]
    assert "old-box moved to Disposed." in page.content()
    assert ConfigurationItem.objects.get(pk=ci.pk).status_changes.get().reason == "never delivered"


def test_a_phone_screen_neither_scrolls_sideways_nor_hides_the_menu(
    live_server, browser, make_user
):
    long_name = "very-long-ci-name-" + "x" * 182
    assert len(long_name) == 200
    ci = CIFactory(name=long_name, ci_type=CIType.objects.get(slug="server"))
    short = CIFactory(name="short-01", ci_type=CIType.objects.get(slug="server"))
    link(ci, short)
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        log_in(page, live_server, make_user)
        pages = ["/cmdb/cis/", f"/cmdb/cis/{ci.pk}/", "/", "/cmdb/relationships/", "/agents/"]
        pages += ["/agents/discrepancies/", "/agents/health/", "/cmdb/import/"]
        for path in pages:
            page.goto(f"{live_server.url}{path}")
            width = page.evaluate("document.scrollingElement.scrollWidth")
            assert width <= 390, (path, width)

        # The menu is collapsed behind a button, which opens it.
        assert not page.locator("#main-nav").is_visible()
        page.click("button.navbar-toggler")
        page.wait_for_selector("#main-nav a:has-text('CIs')", state="visible")
        assert page.get_attribute("button.navbar-toggler", "aria-expanded") == "true"
        page.click("#main-nav a:has-text('CIs')")
        page.wait_for_url(f"{live_server.url}/cmdb/cis/")

        # The favicon is served.
        icon = page.context.request.get(f"{live_server.url}/favicon.ico")
        assert icon.status == 200 and icon.headers["content-type"] in {
            "image/x-icon",
            "image/vnd.microsoft.icon",
        }
    finally:
        context.close()
