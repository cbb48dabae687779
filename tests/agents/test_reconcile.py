"""Reconciliation into the CMDB: matching, ownership, diffs, history, events, discrepancies,
idempotence, and the real GLPI samples' scenarios."""

from __future__ import annotations

import copy
import hashlib
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agents import services
from agents.choices import ReportStatus
from agents.models import CIEvent, Discrepancy, InventoryReport, InventoryState
from cmdb import services as cmdb_services
from cmdb.history import ChangeContext
from cmdb.models import (
    ConfigurationItem,
    FieldOwner,
    HistoryEntry,
    InstalledSoftware,
    StorageVolume,
)
from tests.agents.conftest import make_agent, native_report
from tests.samples import SAMPLES, glpi_sample

pytestmark = pytest.mark.django_db


def submit(agent, document) -> InventoryReport:
    """Store a report as the endpoint does and process it as the task does."""
    body = json.dumps(document).encode()
    report = InventoryReport.objects.create(
        agent=agent.agent,
        body=body,
        sha256=hashlib.sha256(body).hexdigest(),
        size=len(body),
        format=document["format"],
    )
    services.report_process(report_id=report.pk)
    report.refresh_from_db()
    return report


def test_new_machine_becomes_a_ci_with_everything_it_reported():
    agent = make_agent()
    report = submit(agent, native_report(packages=5))
    assert report.status == ReportStatus.PROCESSED, report.error
    ci = ConfigurationItem.objects.get()
    assert (ci.name, ci.hostname, ci.serial_number) == (
        "web-01.example.org",
        "web-01.example.org",
        "SRV-0001",
    )
    assert ci.ci_type.slug == "server" and ci.status == "received"
    assert ci.attributes["os"] == "Debian GNU/Linux" and ci.attributes["memory_mb"] == 16384
    assert ci.attributes["cpu_cores"] == 12
    assert ci.interfaces.get().mac == "52:54:00:12:34:56"
    assert ci.volumes.get().used_percent == 42.0
    assert InstalledSoftware.objects.filter(ci=ci).count() == 5
    assert CIEvent.objects.get(ci=ci).kind == "failed_login"
    agent.agent.refresh_from_db()
    assert agent.agent.ci == ci
    assert HistoryEntry.objects.filter(
        ci=ci, source="agent", source_ref=f"report:{report.pk}"
    ).exists()
    assert report.summary["created"] is True


def test_reprocessing_changes_nothing():
    agent = make_agent()
    report = submit(agent, native_report())
    before = (HistoryEntry.objects.count(), ConfigurationItem.objects.get().version)
    assert services.report_process(report_id=report.pk) is None  # already processed
    InventoryReport.objects.filter(pk=report.pk).update(status=ReportStatus.RECEIVED)
    services.report_process(report_id=report.pk)
    assert (HistoryEntry.objects.count(), ConfigurationItem.objects.get().version) == before
    assert CIEvent.objects.count() == 1


def test_unchanged_report_is_cheap_and_writes_no_history():
    agent = make_agent()
    submit(agent, native_report(packages=300))
    history = HistoryEntry.objects.count()
    with CaptureQueriesContext(connection) as queries:
        report = submit(agent, native_report(packages=300))
    assert report.summary["unchanged"] is True and report.summary["changed_sections"] == []
    assert HistoryEntry.objects.count() == history
    # insert (the test's), lock, state, state update, report update (+ savepoints)
    assert len(queries.captured_queries) <= 8, [q["sql"][:80] for q in queries.captured_queries]
    assert InventoryState.objects.get().last_report == report


def test_a_person_changing_the_ci_makes_the_next_report_apply_again():
    agent = make_agent()
    submit(agent, native_report())
    ci = ConfigurationItem.objects.get()
    people = ChangeContext(source="user")
    # Someone edits a field the agent owns: the next report, though identical, restores it.
    cmdb_services.ci_update(
        context=people, ci_id=ci.pk, data={"hostname": "typo"}, expected_version=ci.version
    )
    report = submit(agent, native_report())
    assert "unchanged" not in report.summary
    ci.refresh_from_db()
    assert ci.hostname == "web-01.example.org"


def test_only_the_changed_sections_are_applied():
    agent = make_agent()
    submit(agent, native_report(packages=300))
    document = native_report(packages=300)
    document["network"][0]["ipv4"] = ["10.0.0.6"]
    report = submit(agent, document)
    assert report.summary["changed_sections"] == ["network"]
    assert set(report.summary["unchanged_sections"]) == {"storage", "software"}


def test_software_change_is_a_diff_and_raises_discrepancies():
    agent = make_agent()
    submit(agent, native_report(packages=10))
    changed = native_report(
        packages=8, extra_software=[{"name": "netcat", "version": "1.2", "vendor": ""}]
    )
    report = submit(agent, changed)
    assert report.summary["changed_sections"] == ["software"]
    entry = HistoryEntry.objects.filter(kind="software").order_by("-id").first()
    assert [i["name"] for i in entry.changes["added"]] == ["netcat"]
    assert sorted(i["name"] for i in entry.changes["removed"]) == ["package-8", "package-9"]
    discrepancy = Discrepancy.objects.get(kind="unapproved_software")
    assert discrepancy.key == "netcat 1.2" and discrepancy.status == "open"


def test_people_owned_fields_are_never_overwritten():
    agent = make_agent()
    submit(agent, native_report())
    ci = ConfigurationItem.objects.get()
    people = ChangeContext(source="user")
    cmdb_services.ci_update(
        context=people,
        ci_id=ci.pk,
        data={"name": "Web server 1", "attributes": {**ci.attributes, "environment": "production"}},
        expected_version=ci.version,
    )
    submit(agent, native_report(memory_mb=32768))
    ci.refresh_from_db()
    assert ci.name == "Web server 1"
    assert ci.attributes["environment"] == "production"
    assert ci.attributes["memory_mb"] == 32768  # the agent owns memory
    assert Discrepancy.objects.get(kind="hardware_changed").key == "memory_mb"


def test_ownership_can_be_handed_to_people():
    agent = make_agent()
    submit(agent, native_report())
    FieldOwner.objects.filter(ci_type__isnull=True, field="attributes.os").update(owner="people")
    document = native_report()
    document["device"]["os"]["name"] = "Something else"
    submit(agent, document)
    assert ConfigurationItem.objects.get().attributes["os"] == "Debian GNU/Linux"


def test_hostname_alone_never_merges_machines():
    first, second = make_agent(), make_agent()
    submit(
        first,
        native_report(
            hostname="agent1",
            uuid="11111111-1111-1111-1111-111111111111",
            serial="A1",
            mac="52:54:00:00:00:01",
        ),
    )
    submit(
        second,
        native_report(
            hostname="agent1",
            uuid="22222222-2222-2222-2222-222222222222",
            serial="B2",
            mac="52:54:00:00:00:02",
        ),
    )
    # Two CIs; the host name, unique among CIs in use, stays with the first.
    assert ConfigurationItem.objects.filter(name="agent1").count() == 2
    assert ConfigurationItem.objects.filter(hostname="agent1").count() == 1


def test_byte_swapped_uuid_matches_the_same_machine():
    first, second = make_agent(), make_agent()
    submit(first, native_report(uuid="4c4c4544-0042-3510-8052-b4c04f4b4d32", serial=""))
    report = submit(second, native_report(uuid="44454c4c-4200-1035-8052-b4c04f4b4d32", serial=""))
    assert ConfigurationItem.objects.count() == 1
    # Matched to the first CI; a second key is then held for approval (was: processed onto it).
    assert report.status == ReportStatus.HELD
    assert report.summary["candidate_ci"] == ConfigurationItem.objects.get().pk


def test_bound_key_cannot_report_for_another_ci():
    agent, other = make_agent(), make_agent()
    submit(
        other,
        native_report(hostname="db-01", uuid="33333333-3333-3333-3333-333333333333", serial="DB1"),
    )
    submit(agent, native_report())
    db = ConfigurationItem.objects.get(hostname="db-01")
    report = submit(
        agent,
        native_report(hostname="db-01", uuid="33333333-3333-3333-3333-333333333333", serial="DB1"),
    )
    # Held (was: rejected): a CMDB Manager may still approve the binding.
    assert report.status == ReportStatus.HELD
    assert "bound" in report.error
    assert ConfigurationItem.objects.get(pk=db.pk).version == db.version
    agent.agent.refresh_from_db()
    assert agent.agent.ci.hostname == "web-01.example.org"


def test_disposed_ci_that_still_reports_is_a_discrepancy():
    agent = make_agent()
    submit(agent, native_report())
    ci = ConfigurationItem.objects.get()
    ConfigurationItem.objects.filter(pk=ci.pk).update(status="disposed")
    submit(agent, native_report())
    assert Discrepancy.objects.get(ci=ci).kind == "disposed_reporting"


def test_stale_managed_ci_and_recovery():
    import datetime as dt

    from django.utils import timezone

    agent = make_agent()
    submit(agent, native_report())
    later = timezone.now() + dt.timedelta(hours=4)
    assert services.stale_ci_audit(now=later) == 1
    assert services.stale_ci_audit(now=later) == 0  # one open discrepancy, not one per run
    submit(agent, native_report())
    assert Discrepancy.objects.get(kind="stale").status == "resolved"


def test_disk_change_and_events_are_kept():
    agent = make_agent()
    submit(agent, native_report())
    document = native_report()
    document["storage"].append(
        {
            "mount": "/data",
            "device": "/dev/sdb1",
            "filesystem": "xfs",
            "size_mb": 500000,
            "used_mb": 1,
        }
    )
    document["events"].append(
        {"at": "2026-11-22T08:30:00Z", "kind": "disk_nearly_full", "detail": "/var 93%"}
    )
    submit(agent, document)
    assert StorageVolume.objects.count() == 2
    assert Discrepancy.objects.get(kind="hardware_changed").key == "storage"
    assert sorted(CIEvent.objects.values_list("kind", flat=True)) == [
        "disk_nearly_full",
        "failed_login",
    ]


# --- the real GLPI samples -----------------------------------------------------------------

needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason="inventory samples missing")


@needs_samples
def test_large_glpi_report_then_its_update_is_one_ci():
    agent = make_agent()
    agent.agent.is_collector = False
    first = submit(agent, glpi_sample("computer_3.json"))
    assert first.status == ReportStatus.PROCESSED, first.error
    ci = ConfigurationItem.objects.get()
    assert ci.uuid == "0055adc9-1d3a-e411-8043-b05d95113232"
    assert InstalledSoftware.objects.filter(ci=ci).count() == 3005
    second = submit(agent, glpi_sample("computer_3_updated.json"))
    assert second.status == ReportStatus.PROCESSED, second.error
    assert ConfigurationItem.objects.count() == 1
    assert InstalledSoftware.objects.filter(ci=ci).count() == 3155


@needs_samples
def test_partial_reports_update_only_their_sections():
    agent = make_agent()
    submit(
        agent, glpi_sample("glpi-software__04_computer_full_inventory_with_os_without_soft.json")
    )
    ci = ConfigurationItem.objects.get()
    os_before = ci.attributes.get("os")
    assert InstalledSoftware.objects.filter(ci=ci).count() == 0
    submit(
        agent, glpi_sample("glpi-software__05_computer_full_inventory_without_os_with_soft.json")
    )
    ci.refresh_from_db()
    assert ConfigurationItem.objects.count() == 1
    assert ci.attributes.get("os") == os_before  # the partial report had no OS section
    names = list(
        InstalledSoftware.objects.filter(ci=ci).values_list("software__product__name", flat=True)
    )
    assert names == ["Teclib Software Software"]


@needs_samples
def test_one_catalogue_entry_for_the_same_software_on_two_machines():
    submit(make_agent(), glpi_sample("glpi-software__01_computer_full_inventory_soft_and_os.json"))
    submit(
        make_agent(),
        glpi_sample("glpi-software__05_computer_full_inventory_without_os_with_soft.json"),
    )
    from cmdb.models import SoftwareVersion

    version = SoftwareVersion.objects.get(product__name="Teclib Software Software")
    assert version.installations.count() == 2


@needs_samples
def test_special_characters_in_software_names_survive():
    submit(
        make_agent(),
        glpi_sample("glpi-softwares__01-test_software_with_special_chars_with_version.json"),
    )
    names = set(InstalledSoftware.objects.values_list("software__product__name", flat=True))
    assert any("&" in name for name in names)


@needs_samples
def test_partial_report_after_a_full_one_keeps_the_rest():
    agent = make_agent()
    submit(agent, glpi_sample("computer_2.json"))
    ci = ConfigurationItem.objects.get()
    snapshot = (ci.hostname, ci.serial_number, dict(ci.attributes))
    for name in ("computer_2_partial_dbs.json", "computer_2_partial_vms.json"):
        report = submit(agent, glpi_sample(name))
        assert report.status == ReportStatus.PROCESSED, report.error
    ci.refresh_from_db()
    assert ConfigurationItem.objects.count() == 1
    assert (ci.hostname, ci.serial_number) == snapshot[:2]


@needs_samples
def test_printer_reported_twice_is_one_printer():
    collector = make_agent()
    collector.agent.is_collector = True
    collector.agent.save()
    submit(collector, glpi_sample("printer_2.json"))
    submit(collector, glpi_sample("printer_3.json"))
    printer = ConfigurationItem.objects.get()
    assert printer.ci_type.slug == "printer"
    collector.agent.refresh_from_db()
    assert collector.agent.ci is None  # a collector's key is not bound to one device


@needs_samples
def test_every_glpi_sample_processes():
    # One key per GLPI agent install (its deviceid), as in the field; network inventories come
    # from one collector. (Was: one collector key for everything, which a key may no longer do:
    # it is bound to the first computer it reports.)
    collector = make_agent()
    collector.agent.is_collector = True
    collector.agent.save()
    keys = {}
    for path in sorted((SAMPLES / "glpi-json").glob("*.json")):
        document = glpi_sample(path.name)
        if document.get("itemtype") in ("NetworkEquipment", "Printer"):
            agent = collector
        else:
            if document["deviceid"] not in keys:
                keys[document["deviceid"]] = make_agent()
            agent = keys[document["deviceid"]]
        report = submit(agent, document)
        assert report.status == ReportStatus.PROCESSED, (path.name, report.error)
    assert InventoryState.objects.count() == ConfigurationItem.objects.count()
    # computer_3 and its update, printer_2 and printer_3, software__04 and __05 are the same devices
    uuids = list(ConfigurationItem.objects.exclude(uuid="").values_list("uuid", flat=True))
    assert len(uuids) == len(set(uuids))


def test_invalid_report_content_is_rejected_not_retried():
    agent = make_agent()
    document = copy.deepcopy(native_report())
    document["format"] = "glpi-inventory"
    document["content"] = "not an object"
    report = submit(agent, document)
    assert report.status == ReportStatus.REJECTED
    assert ConfigurationItem.objects.count() == 0


def test_policy_can_raise_incidents_for_new_discrepancies():
    from incidents.models import Incident

    agent = make_agent()
    agent.agent.group.raise_incidents = True
    agent.agent.group.save()
    submit(agent, native_report(packages=2))
    submit(
        agent,
        native_report(
            packages=2, extra_software=[{"name": "nmap", "version": "7.93", "vendor": ""}]
        ),
    )
    incident = Incident.objects.get()
    ci = ConfigurationItem.objects.get()
    assert incident.source == "audit" and list(incident.cis.all()) == [ci]
    assert "nmap" in incident.description and incident.number.startswith("INC-")
    assert Discrepancy.objects.get(kind="unapproved_software").incident == incident
    # The same discrepancy seen again raises nothing new.
    submit(
        agent,
        native_report(
            packages=1, extra_software=[{"name": "nmap", "version": "7.93", "vendor": ""}]
        ),
    )
    assert Incident.objects.count() == 1


def test_without_the_policy_no_incident_is_raised():
    from incidents.models import Incident

    agent = make_agent()
    submit(agent, native_report(packages=2))
    submit(agent, native_report(packages=3))
    assert Discrepancy.objects.filter(kind="unapproved_software").exists()
    assert Incident.objects.count() == 0


def test_old_reports_are_purged_but_the_latest_is_kept():
    import datetime as dt

    from django.utils import timezone

    agent = make_agent()
    first = submit(agent, native_report(packages=1))
    second = submit(agent, native_report(packages=2))
    InventoryReport.objects.update(received_at=timezone.now() - dt.timedelta(days=40))
    assert services.report_purge_old(days=30) == 1
    assert list(InventoryReport.objects.values_list("pk", flat=True)) == [second.pk]
    assert first.pk != second.pk


def test_an_unchanged_report_is_settled_in_the_request_without_a_task(client, monkeypatch):
    """The 202 of an unchanged report already says processed: nothing is queued."""
    from agents import tasks

    agent = make_agent()
    assert agent.post(client, native_report(packages=50)).status_code == 202
    queued = []
    monkeypatch.setattr(tasks.process_report_task, "delay", lambda *a: queued.append(a))
    history = HistoryEntry.objects.count()
    response = agent.post(client, native_report(packages=50))
    assert response.status_code == 202
    assert response.json()["status"] == ReportStatus.PROCESSED
    assert queued == []
    report = InventoryReport.objects.get(pk=response.json()["report_id"])
    agent.agent.refresh_from_db()
    assert report.summary["unchanged"] is True and report.ci_id == agent.agent.ci_id
    assert InventoryState.objects.get().last_report == report
    assert HistoryEntry.objects.count() == history


def test_an_identical_report_waits_behind_an_earlier_one_still_in_the_queue(client, monkeypatch):
    """Reports of one machine apply in order: the short path never overtakes a waiting one."""
    from agents import tasks

    agent = make_agent()
    assert agent.post(client, native_report(packages=5)).status_code == 202
    queued = []
    monkeypatch.setattr(tasks.process_report_task, "delay", lambda *a: queued.append(a))
    changed = agent.post(client, native_report(packages=6))  # stored, processing delayed
    same_as_before = agent.post(client, native_report(packages=5))
    assert [c.json()["status"] for c in (changed, same_as_before)] == ["received", "received"]
    assert len(queued) == 2
    for (report_id,) in queued:
        services.report_process(report_id=report_id)
    assert InstalledSoftware.objects.count() == 5
    assert InventoryState.objects.get().last_report_id == same_as_before.json()["report_id"]


def test_an_edited_ci_sends_the_identical_report_down_the_full_path(client):
    agent = make_agent()
    agent.post(client, native_report())
    ci = ConfigurationItem.objects.get()
    cmdb_services.ci_update(
        context=ChangeContext(source="user"),
        ci_id=ci.pk,
        data={"description": "edited by hand"},
        expected_version=ci.version,
    )
    response = agent.post(client, native_report())
    report = InventoryReport.objects.get(pk=response.json()["report_id"])
    assert report.status == ReportStatus.PROCESSED and "unchanged" not in report.summary


def test_an_unchanged_report_with_a_bad_timestamp_is_still_refused(client):
    """The short path skips re-validating the known content, never the parts outside it."""
    agent = make_agent()
    assert agent.post(client, native_report()).status_code == 202
    reports = InventoryReport.objects.count()
    document = native_report()
    document["collected_at"] = "yesterday"
    response = agent.post(client, document)
    assert response.status_code == 400, response.content
    assert InventoryReport.objects.count() == reports


def test_a_new_machine_whose_attributes_the_type_refuses_still_becomes_a_ci():
    from cmdb.models import CIType

    server = CIType.objects.get(slug="server")
    server.attribute_schema = {
        "type": "object",
        "properties": {"memory_mb": {"type": "integer", "maximum": 1024}},
    }
    server.save()
    agent = make_agent()
    report = submit(agent, native_report(memory_mb=16384))
    assert report.status == ReportStatus.PROCESSED, report.error
    ci = ConfigurationItem.objects.get()
    assert ci.ci_type == server and "memory_mb" not in ci.attributes
    assert ci.hostname == "web-01.example.org"


def test_software_seen_again_refreshes_its_discrepancy_and_points_at_the_report():
    agent = make_agent()
    submit(agent, native_report(packages=3))
    netcat = [{"name": "netcat", "version": "1.2", "vendor": ""}]
    first = submit(agent, native_report(packages=3, extra_software=netcat))
    item = Discrepancy.objects.get(kind="unapproved_software")
    assert (item.key, item.report_id, item.detail["name"]) == ("netcat 1.2", first.pk, "netcat")
    submit(agent, native_report(packages=3))  # removed again
    again = submit(agent, native_report(packages=3, extra_software=netcat))
    refreshed = Discrepancy.objects.get(kind="unapproved_software")
    assert refreshed.pk == item.pk  # one open discrepancy, not two
    assert refreshed.report_id == again.pk and refreshed.last_seen > item.last_seen


def test_a_report_that_failed_for_good_no_longer_holds_back_the_short_path(client, monkeypatch):
    from agents import tasks

    agent = make_agent()
    agent.post(client, native_report())
    queued = []
    monkeypatch.setattr(tasks.process_report_task, "delay", lambda *a: queued.append(a))
    stuck = agent.post(client, native_report(packages=4)).json()["report_id"]
    InventoryReport.objects.filter(pk=stuck).update(status=ReportStatus.FAILED, attempts=3)
    held_back = agent.post(client, native_report())  # same as the CMDB, but must wait
    assert held_back.json()["status"] == ReportStatus.RECEIVED
    InventoryReport.objects.filter(pk=stuck).update(attempts=services.MAX_ATTEMPTS)
    InventoryReport.objects.filter(pk=held_back.json()["report_id"]).delete()
    settled = agent.post(client, native_report())
    assert settled.json()["status"] == ReportStatus.PROCESSED
    assert [report_id for (report_id,) in queued] == [stuck, held_back.json()["report_id"]]
