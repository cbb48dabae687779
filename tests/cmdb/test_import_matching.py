"""CSV import of CIs: a row reaches an existing CI only through an explicit key, a dry run shows
every change, rows that would overwrite the wrong CI are refused, and text the database cannot
store is a row error (issue 6 part 1 item 1, part 2 item 2; issue 7 item 3)."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError

from cmdb import imports, services
from cmdb.choices import ChangeSource
from cmdb.history import ChangeContext
from cmdb.models import CIType, ConfigurationItem, HistoryEntry, InstalledSoftware
from itsm.exceptions import ApplicationError
from tests.factories import SYSTEM, CIFactory, server_type

pytestmark = pytest.mark.django_db


def ctx(user) -> ChangeContext:
    return ChangeContext(actor=user, source=ChangeSource.IMPORT, source_ref="tests")


def csv_text(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def errors_by_row(result) -> dict[int, dict[str, list[str]]]:
    return {item["row"]: item["errors"] for item in result.row_errors}


def state(ci: ConfigurationItem) -> tuple:
    ci.refresh_from_db()
    return (ci.name, ci.ci_type.slug, ci.serial_number, ci.hostname, ci.attributes, ci.version)


@pytest.fixture
def desktop():
    """The desktop of the story: Windows, its software installed."""
    ci = CIFactory(
        name="desk-0042",
        ci_type=CIType.objects.get(slug="desktop"),
        serial_number="CZC1234XYZ",
        hostname="desk-0042",
        attributes={"os": "Windows 11", "model": "HP EliteDesk 800"},
    )
    services.software_replace(
        context=SYSTEM,
        ci=ci,
        items=[{"name": "Microsoft Office", "vendor": "Microsoft", "version": "16.0"}],
    )
    return ci


# --- the printer and the desktop -------------------------------------------------------------


PRINTER_ROW = csv_text("name,ci_type,serial_number,attr:model", "prn-3f-01,printer,CZC1234XYZ,M428")


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_printer_row_carrying_a_desktops_serial_does_not_overwrite_the_desktop(
    cmdb_manager, desktop, dry_run
):
    before = state(desktop)
    history = HistoryEntry.objects.count()

    result = imports.import_csv(
        context=ctx(cmdb_manager), kind="cis", data=PRINTER_ROW, dry_run=dry_run
    )

    assert result.match_on == "none"  # no id column: the file can only create CIs
    assert not result.ok and not result.written
    message = errors_by_row(result)[2]["serial_number"][0]
    assert f"CI {desktop.pk} (desk-0042) already has this serial number" in message
    assert "cannot take it" in message
    assert (result.created, result.updated) == (0, 0)
    assert state(desktop) == before
    assert InstalledSoftware.objects.filter(ci=desktop).count() == 1
    assert not ConfigurationItem.objects.filter(name="prn-3f-01").exists()
    assert HistoryEntry.objects.count() == history


def test_matching_on_the_serial_still_refuses_to_turn_the_desktop_into_a_printer(
    cmdb_manager, desktop
):
    before = state(desktop)
    result = imports.import_csv(
        context=ctx(cmdb_manager),
        kind="cis",
        data=PRINTER_ROW,
        dry_run=False,
        match_on="serial_number",
    )
    errors = errors_by_row(result)[2]
    assert "an import does not change the type of a CI" in errors["ci_type"][0]
    assert f"CI {desktop.pk} (desk-0042) is a desktop" in errors["ci_type"][0]
    assert state(desktop) == before


def test_the_api_dry_run_refuses_the_printer_row_with_a_row_error(manager_api, desktop):
    response = manager_api.post(
        "/api/v1/cmdb/import/cis/?dry_run=true", PRINTER_ROW.encode(), content_type="text/csv"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["match_on"] == "none" and body["updated"] == 0
    assert "already has this serial number" in body["row_errors"][0]["errors"]["serial_number"][0]


# --- the dry run shows every change ----------------------------------------------------------


def test_the_dry_run_names_each_ci_and_each_fields_old_and_new_value(
    manager_api, make_user, desktop
):
    make_user(None, username="bob")
    body = csv_text(
        "id,name,owner,hostname,attr:os,attr:memory_mb",
        f"{desktop.pk},desk-0042,bob,desk-0042.example.org,Windows 11,16384",
    ).encode()

    response = manager_api.post(
        "/api/v1/cmdb/import/cis/?dry_run=true", body, content_type="text/csv"
    )

    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["match_on"] == "id" and data["updated"] == 1 and data["written"] is False
    assert data["rows"] == [
        {
            "row": 2,
            "action": "update",
            "id": desktop.pk,
            "name": "desk-0042",
            "ci_type": "desktop",
            "fields": ["attributes", "hostname", "owner"],
            "changes": {
                "owner": {"old": None, "new": "bob"},
                "hostname": {"old": "desk-0042", "new": "desk-0042.example.org"},
                "attr:memory_mb": {"old": None, "new": 16384},
            },
        }
    ]
    desktop.refresh_from_db()
    assert desktop.hostname == "desk-0042" and desktop.version == 1


def test_the_import_page_shows_old_and_new_values(client, cmdb_manager, desktop):
    client.force_login(cmdb_manager)
    body = csv_text("id,hostname", f"{desktop.pk},desk-0042.example.org").encode()
    response = client.post(
        "/cmdb/import/",
        {"kind": "cis", "dry_run": "on", "file": SimpleUploadedFile("cis.csv", body)},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Rows matched to existing CIs on: <strong>id</strong>" in page
    assert "<code>hostname</code>: <span" in page
    assert "desk-0042</span> → <span" in page and "desk-0042.example.org</span>" in page
    assert 'name="match_on"' in page

    response = client.post("/cmdb/import/", {"confirm": response.context["token"]})
    assert "Imported: created 0, updated 1" in response.content.decode()
    desktop.refresh_from_db()
    assert desktop.hostname == "desk-0042.example.org" and desktop.version == 2


def test_the_page_passes_the_chosen_key_to_the_import(client, cmdb_manager, desktop):
    client.force_login(cmdb_manager)
    body = csv_text("serial_number,hostname", "CZC1234XYZ,desk-42").encode()
    response = client.post(
        "/cmdb/import/",
        {
            "kind": "cis",
            "dry_run": "on",
            "match_on": "serial_number",
            "file": SimpleUploadedFile("cis.csv", body),
        },
    )
    assert response.status_code == 200
    assert "would update 1" in response.content.decode()
    response = client.post("/cmdb/import/", {"confirm": response.context["token"]})
    desktop.refresh_from_db()
    assert desktop.hostname == "desk-42"


# --- rows that reach two CIs, or change a type -----------------------------------------------


def test_a_row_whose_id_and_serial_name_two_cis_is_refused(cmdb_manager):
    server_type()
    five = CIFactory(name="five", ci_type=server_type(), attributes={"os": "x"})
    nine = CIFactory(
        name="nine", ci_type=server_type(), attributes={"os": "x"}, serial_number="SN9"
    )
    rows = imports.parse_csv(csv_text("id,serial_number,name", f"{five.pk},SN9,renamed"))

    result = imports.import_cis(context=ctx(cmdb_manager), rows=rows, dry_run=False)

    message = errors_by_row(result)[2]["serial_number"][0]
    assert f"CI {nine.pk} (nine) already has this serial number" in message
    assert f"this row is CI {five.pk} (five) by this row's id" in message
    five.refresh_from_db()
    nine.refresh_from_db()
    assert (five.name, five.serial_number, nine.name) == ("five", "", "nine")


def test_a_row_whose_key_and_another_identifier_name_two_cis_is_refused(cmdb_manager):
    five = CIFactory(
        name="five", ci_type=server_type(), attributes={"os": "x"}, serial_number="SN5"
    )
    nine = CIFactory(
        name="nine",
        ci_type=server_type(),
        attributes={"os": "x"},
        asset_tag="AT9",
        uuid="00000000-0000-4000-8000-000000009999",
        hostname="nine.example.org",
    )
    rows = imports.parse_csv(
        csv_text(
            "serial_number,asset_tag,uuid,hostname",
            "SN5,AT9,,",
            "SN5,,{00000000-0000-4000-8000-000000009999},",
            "SN5,,,NINE.example.org.",
        )
    )

    result = imports.import_cis(
        context=ctx(cmdb_manager), rows=rows, dry_run=True, match_on="serial_number"
    )

    errors = errors_by_row(result)
    assert f"CI {nine.pk} (nine) already has this asset tag" in errors[2]["asset_tag"][0]
    assert f"this row is CI {five.pk} (five) by its serial number" in errors[2]["asset_tag"][0]
    assert f"CI {nine.pk} (nine) already has this UUID" in errors[3]["uuid"][0]
    assert f"CI {nine.pk} (nine) already has this host name" in errors[4]["hostname"][0]


def test_a_row_changing_a_cis_type_by_id_is_refused(cmdb_manager, desktop):
    before = state(desktop)
    rows = imports.parse_csv(csv_text("id,ci_type", f"{desktop.pk},printer"))
    result = imports.import_cis(context=ctx(cmdb_manager), rows=rows, dry_run=False)
    assert "does not change the type" in errors_by_row(result)[2]["ci_type"][0]
    assert state(desktop) == before
    same = imports.parse_csv(csv_text("id,ci_type", f"{desktop.pk},desktop"))
    assert imports.import_cis(context=ctx(cmdb_manager), rows=same, dry_run=False).unchanged == 1


def test_creating_a_ci_with_another_cis_identifier_is_refused_not_turned_into_an_update(
    cmdb_manager,
):
    existing = CIFactory(
        name="a",
        ci_type=server_type(),
        attributes={"os": "x"},
        uuid="abcdabcd-0000-4000-8000-00000000abcd",
    )
    rows = imports.parse_csv(
        csv_text(
            "id,name,ci_type,uuid,attr:os",
            ",new,test-server,{ABCDABCD-0000-4000-8000-00000000ABCD},Debian",
        )
    )
    result = imports.import_cis(context=ctx(cmdb_manager), rows=rows, dry_run=False)
    assert "cannot take it" in errors_by_row(result)[2]["uuid"][0]
    assert ConfigurationItem.objects.count() == 1
    existing.refresh_from_db()
    assert existing.name == "a" and existing.version == 1


def test_one_refused_row_refuses_the_whole_file(cmdb_manager, desktop):
    """Atomic: the good update and the good creation in the file are not written either."""
    other = CIFactory(name="other", ci_type=server_type(), attributes={"os": "x"})
    rows = imports.parse_csv(
        csv_text(
            "id,name,ci_type,hostname,attr:os",
            f"{other.pk},,,other.example.org,",  # fine on its own
            ",brand-new,test-server,,Debian",  # fine on its own
            f"{desktop.pk},,printer,,",  # refused: type change
        )
    )
    history = HistoryEntry.objects.count()
    result = imports.import_cis(context=ctx(cmdb_manager), rows=rows, dry_run=False)
    assert list(errors_by_row(result)) == [4]
    assert (result.created, result.updated) == (1, 1)  # what the good rows would have done
    other.refresh_from_db()
    assert other.hostname == "" and other.version == 1
    assert not ConfigurationItem.objects.filter(name="brand-new").exists()
    assert HistoryEntry.objects.count() == history


def test_an_id_in_a_create_only_import_is_refused(cmdb_manager, desktop):
    rows = imports.parse_csv(csv_text("id,hostname", f"{desktop.pk},x"))
    result = imports.import_cis(context=ctx(cmdb_manager), rows=rows, dry_run=True, match_on="none")
    assert "only creates CIs" in errors_by_row(result)[2]["id"][0]


def test_the_match_column_must_be_in_the_file_and_a_known_key(cmdb_manager, manager_api):
    rows = imports.parse_csv(csv_text("name,ci_type", "x,test-server"))
    with pytest.raises(imports.ImportFileError, match="no uuid column"):
        imports.import_cis(context=ctx(cmdb_manager), rows=rows, dry_run=True, match_on="uuid")
    with pytest.raises(ApplicationError, match="not a match key"):
        imports.import_cis(context=ctx(cmdb_manager), rows=rows, dry_run=True, match_on="name")
    response = manager_api.post(
        "/api/v1/cmdb/import/cis/?dry_run=true&match_on=name",
        b"name,ci_type\nx,test-server\n",
        content_type="text/csv",
    )
    assert response.status_code == 400 and "match_on" in response.json()


def test_updates_follow_the_rules_of_ci_update(cmdb_manager):
    """Normalisation and the version check are the service's, not re-implemented."""
    ci = CIFactory(name="s", ci_type=server_type(), attributes={"os": "x"})
    rows = imports.parse_csv(
        csv_text(
            "id,uuid,serial_number,version",
            f"{ci.pk},{{4C4C4544-0042-3510-8052-B4C04F4B4D32}}, SN-1 ,1",
        )
    )
    result = imports.import_cis(context=ctx(cmdb_manager), rows=rows, dry_run=False)
    assert result.updated == 1
    ci.refresh_from_db()
    assert (ci.uuid, ci.serial_number, ci.version) == (
        "4c4c4544-0042-3510-8052-b4c04f4b4d32",
        "SN-1",
        2,
    )
    entry = HistoryEntry.objects.get(ci=ci, kind="updated")
    assert entry.changes == {
        "uuid": {"old": "", "new": "4c4c4544-0042-3510-8052-b4c04f4b4d32"},
        "serial_number": {"old": "", "new": "SN-1"},
    }
    stale = imports.parse_csv(csv_text("id,name,version", f"{ci.pk},renamed,1"))
    result = imports.import_cis(context=ctx(cmdb_manager), rows=stale, dry_run=False)
    assert "changed since this row was exported" in errors_by_row(result)[2]["version"][0]


def test_the_command_takes_the_match_key(tmp_path, desktop):
    path = tmp_path / "cis.csv"
    path.write_text(csv_text("serial_number,hostname", "CZC1234XYZ,desk-7"), encoding="utf-8")
    with pytest.raises(CommandError, match="Missing required columns: ci_type, name"):
        call_command("import_cis", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    out = io.StringIO()
    call_command("import_cis", str(path), "--dry-run", "--match-on", "serial_number", stdout=out)
    assert "would update 1" in out.getvalue()
    assert f"CI {desktop.pk}: hostname: 'desk-0042' → 'desk-7'" in out.getvalue()
    call_command("import_cis", str(path), "--match-on", "serial_number", stdout=out)
    desktop.refresh_from_db()
    assert desktop.hostname == "desk-7"


# --- text the database cannot store ----------------------------------------------------------


DEEP = "[" * 40 + "]" * 40
VERY_DEEP = "[" * 5_000 + "]" * 5_000  # deeper than the JSON parser itself goes


@pytest.mark.parametrize(
    ("line", "column", "message"),
    [
        ("a\x00b,test-server,,", "name", "NUL character"),
        ("a,test-server,,x\x00", "attr:os", "NUL character"),
        ('a,test-server,"{""os"": ""x\\u0000""}",', "attributes", "NUL character"),
        ('a,test-server,"{""o\\u0000s"": ""x""}",', "attributes", "A key: Contains a NUL"),
        ('a,test-server,"{""os"": ""\\ud800""}",', "attributes", "lone surrogate"),
        (f'a,test-server,"{{""os"": ""x"", ""deep"": {DEEP}}}",', "attributes", "deeper than 32"),
        (f'a,test-server,"{VERY_DEEP}",', "attributes", "deeper than 32"),
    ],
)
def test_text_the_database_cannot_store_is_a_row_error_in_the_dry_run(
    manager_api, line, column, message
):
    server_type()
    body = csv_text("name,ci_type,attributes,attr:os", line).encode()
    for dry_run in ("true", "false"):
        response = manager_api.post(
            f"/api/v1/cmdb/import/cis/?dry_run={dry_run}", body, content_type="text/csv"
        )
        assert response.status_code == 400, response.content[:300]
        errors = response.json()["row_errors"][0]["errors"]
        assert message in errors[column][0], errors
    assert not ConfigurationItem.objects.exists()


def test_a_lone_surrogate_in_a_text_file_and_nul_in_relationships_are_row_errors(cmdb_manager):
    server_type()
    result = imports.import_csv(
        context=ctx(cmdb_manager),
        kind="cis",
        data="name,ci_type,attr:os\nok,test-server,x\nbad\ud800,test-server,x\n",
        dry_run=True,
    )
    assert list(errors_by_row(result)) == [3]
    assert "lone surrogate" in errors_by_row(result)[3]["name"][0]
    result = imports.import_csv(
        context=ctx(cmdb_manager),
        kind="relationships",
        data="source,target,type\nweb\x00,db,hosts\n",
        dry_run=True,
    )
    assert "NUL character" in errors_by_row(result)[2]["source"][0]


def test_the_depth_limit_is_a_setting(cmdb_manager, settings):
    server_type()
    settings.API_JSON_MAX_DEPTH = 2
    rows = imports.parse_csv(
        csv_text("name,ci_type,attributes", 'a,test-server,"{""os"": ""x"", ""d"": [[1]]}"')
    )
    result = imports.import_cis(context=ctx(cmdb_manager), rows=rows, dry_run=True)
    assert "deeper than 2 levels" in errors_by_row(result)[2]["attributes"][0]
