"""Browser journey of the CSV import: a row that would overwrite another CI is refused; a dry
run matched on a chosen key shows each change, then "Import now" writes it."""

from __future__ import annotations

import os

import pytest

from cmdb.models import CIType, ConfigurationItem
from itsm import roles
from tests.factories import CIFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def upload(page, tmp_path, name: str, text: str, match_on: str = "") -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    page.select_option("#id_kind", "cis")
    page.select_option("#id_match_on", match_on)
    page.set_input_files("#id_file", str(path))
    page.check("#id_dry_run")
    page.click("button:has-text('Check / import')")
    page.wait_for_selector("#import-result")


def test_the_import_refuses_the_printer_row_and_shows_each_change(
    live_server, page, make_user, tmp_path
):
    make_user(roles.CMDB_MANAGER, username="ines", password="Browser-Test-1")
    desk = CIFactory(
        name="desk-0042",
        ci_type=CIType.objects.get(slug="desktop"),
        serial_number="CZC1234XYZ",
        hostname="desk-0042",
        attributes={"os": "Windows 11"},
    )
    page.goto(f"{live_server.url}/login/?next=/cmdb/import/")
    page.fill("#id_username", "ines")
    page.fill("#id_password", "Browser-Test-1")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/cmdb/import/")

    upload(
        page, tmp_path, "printers.csv", "name,ci_type,serial_number\nprn-01,printer,CZC1234XYZ\n"
    )
    errors = page.locator("#row-errors")
    assert "already has this serial number" in errors.inner_text()
    assert page.locator("input[name=confirm]").count() == 0

    upload(
        page,
        tmp_path,
        "hosts.csv",
        "serial_number,hostname\nCZC1234XYZ,desk-0042.example.org\n",
        match_on="serial_number",
    )
    plan = page.locator("#import-plan").inner_text()
    assert "desk-0042" in plan and "hostname" in plan
    assert "desk-0042 → desk-0042.example.org" in plan
    if os.environ.get("ITSM_SCREENSHOTS"):
        page.screenshot(path=os.environ["ITSM_SCREENSHOTS"] + "/import-dry-run.png", full_page=True)
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Import now')")
    page.wait_for_selector("text=Imported: created 0, updated 1")
    desk.refresh_from_db()
    assert desk.hostname == "desk-0042.example.org" and desk.ci_type.slug == "desktop"
    assert not ConfigurationItem.objects.filter(name="prn-01").exists()
