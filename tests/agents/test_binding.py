"""A key updates only the CI it is bound to (issue 7, item 2): held reports, identity
discrepancies, the security log, a CMDB Manager's approval or refusal, collectors."""

from __future__ import annotations

import pytest

from agents import binding, discrepancies, services
from agents.choices import (
    DISCREPANCY_TRANSITIONS,
    REPORT_TRANSITIONS,
    DiscrepancyKind,
    DiscrepancyStatus,
    RejectionReason,
    ReportStatus,
)
from agents.models import Agent, Discrepancy, SecurityEvent
from cmdb.history import ChangeContext
from cmdb.models import ConfigurationItem, HistoryEntry, InstalledSoftware
from itsm.exceptions import ApplicationError, PermissionDeniedError
from tests.agents.conftest import make_agent, native_report
from tests.agents.test_reconcile import submit

pytestmark = pytest.mark.django_db

ATTACKER = dict(hostname="evil-01", uuid="9b1de9a4-6f0e-4f8e-9d61-0a0a0a0a0a0a", packages=1)


def ctx(user) -> ChangeContext:
    return ChangeContext(actor=user, source="user")


@pytest.fixture
def production_server():
    """A production server reported by its own key: (its key, the CI)."""
    owner = make_agent(name="web-01")
    assert submit(owner, native_report(packages=5)).status == ReportStatus.PROCESSED
    ci = ConfigurationItem.objects.get()
    ConfigurationItem.objects.filter(pk=ci.pk).update(status="production")
    ci.refresh_from_db()
    owner.agent.refresh_from_db()
    assert owner.agent.ci_id == ci.pk
    return owner, ci


def snapshot(ci: ConfigurationItem) -> tuple:
    ci.refresh_from_db()
    software = sorted(
        InstalledSoftware.objects.filter(ci=ci).values_list("software__product__name", flat=True)
    )
    return ci.hostname, ci.uuid, ci.serial_number, ci.version, software


def held_discrepancy(agent) -> Discrepancy:
    return Discrepancy.objects.get(kind=DiscrepancyKind.IDENTITY_HOLD, key=agent.agent.key_id)


def test_a_new_key_with_the_serial_of_a_production_server_is_held(production_server):
    _owner, ci = production_server
    before = snapshot(ci)
    intruder = make_agent(name="intruder")
    report = submit(intruder, native_report(**ATTACKER))  # same serial SRV-0001 and maker
    assert report.status == ReportStatus.HELD
    assert snapshot(ci) == before  # hostname, uuid, software, version: nothing changed
    assert ConfigurationItem.objects.count() == 1
    intruder.agent.refresh_from_db()
    assert intruder.agent.ci is None
    item = held_discrepancy(intruder)
    assert (item.ci, item.status, item.report) == (ci, DiscrepancyStatus.OPEN, report)
    assert item.detail["matched_by"] == "serial_number" and item.detail["weak"] is False
    log = SecurityEvent.objects.get(reason=RejectionReason.IDENTITY)
    assert log.key_id == intruder.agent.key_id and str(ci.pk) in log.detail
    # Reporting again refreshes the same discrepancy and writes no second log entry.
    again = submit(intruder, native_report(**ATTACKER))
    assert again.status == ReportStatus.HELD
    assert held_discrepancy(intruder).report == again
    assert SecurityEvent.objects.filter(reason=RejectionReason.IDENTITY).count() == 1
    assert snapshot(ci) == before


def test_approving_binds_the_key_applies_the_report_and_unbinds_the_old_key(
    production_server, cmdb_manager
):
    owner, ci = production_server
    newcomer = make_agent(name="reinstalled")
    first = submit(newcomer, native_report(**ATTACKER))
    latest = submit(newcomer, native_report(**{**ATTACKER, "hostname": "web-01-new"}))
    item = binding.binding_approve(
        context=ctx(cmdb_manager), discrepancy_id=held_discrepancy(newcomer).pk
    )
    assert (item.status, item.resolved_by) == (DiscrepancyStatus.RESOLVED, cmdb_manager)
    newcomer.agent.refresh_from_db()
    owner.agent.refresh_from_db()
    assert newcomer.agent.ci_id == ci.pk and owner.agent.ci_id is None
    latest.refresh_from_db()
    first.refresh_from_db()
    assert latest.status == ReportStatus.PROCESSED and latest.ci_id == ci.pk
    assert first.status == ReportStatus.REJECTED and "Superseded" in first.error
    ci.refresh_from_db()
    assert ci.hostname == "web-01-new"
    assert InstalledSoftware.objects.filter(ci=ci).count() == 1
    log = SecurityEvent.objects.get(reason=RejectionReason.BINDING_APPROVED)
    assert owner.agent.key_id in log.detail and cmdb_manager.username in log.detail
    assert HistoryEntry.objects.filter(ci=ci, changes__has_key="agent_binding").exists()
    # From now on the new key updates the CI; the old key is the one held.
    assert submit(newcomer, native_report(**ATTACKER)).status == ReportStatus.PROCESSED
    assert submit(owner, native_report()).status == ReportStatus.HELD
    # A decided discrepancy cannot be decided again.
    with pytest.raises(ApplicationError):
        binding.binding_approve(context=ctx(cmdb_manager), discrepancy_id=item.pk)


def test_refusing_changes_nothing(production_server, cmdb_manager):
    owner, ci = production_server
    before = snapshot(ci)
    intruder = make_agent()
    report = submit(intruder, native_report(**ATTACKER))
    item = binding.binding_refuse(
        context=ctx(cmdb_manager), discrepancy_id=held_discrepancy(intruder).pk, note="stolen key"
    )
    assert item.status == DiscrepancyStatus.REFUSED and item.resolution == "stolen key"
    report.refresh_from_db()
    assert report.status == ReportStatus.REJECTED and "refused" in report.error
    assert snapshot(ci) == before
    intruder.agent.refresh_from_db()
    owner.agent.refresh_from_db()
    assert intruder.agent.ci is None and owner.agent.ci_id == ci.pk
    assert SecurityEvent.objects.filter(reason=RejectionReason.BINDING_REFUSED).count() == 1
    with pytest.raises(ApplicationError):
        binding.binding_refuse(context=ctx(cmdb_manager), discrepancy_id=item.pk)


def test_only_a_cmdb_manager_decides_a_binding(production_server, make_user):
    intruder = make_agent()
    submit(intruder, native_report(**ATTACKER))
    item = held_discrepancy(intruder)
    for role in ("Service Desk", "Read Only", "Change Manager"):
        with pytest.raises(PermissionDeniedError):
            binding.binding_approve(context=ctx(make_user(role)), discrepancy_id=item.pk)
        with pytest.raises(PermissionDeniedError):
            binding.binding_refuse(context=ctx(make_user(role)), discrepancy_id=item.pk)
    # Not closable as an ordinary discrepancy either: the held report must be settled.
    with pytest.raises(ApplicationError):
        services.discrepancy_close(
            context=ctx(make_user("CMDB Manager")), discrepancy_id=item.pk, status="accepted"
        )


def test_a_bound_key_reporting_a_different_machine_is_held(production_server):
    owner, ci = production_server
    before = snapshot(ci)
    report = submit(
        owner,
        native_report(hostname="other", uuid="0e6b2f1c-2d3a-4c5b-8e9f-112233445566", serial="X9"),
    )
    assert report.status == ReportStatus.HELD
    assert snapshot(ci) == before
    assert ConfigurationItem.objects.count() == 1
    assert held_discrepancy(owner).ci == ci
    # One identifier changing (the serial: a replaced board) is a hardware change, not a hold.
    assert submit(owner, native_report(serial="SRV-0002")).status == ReportStatus.PROCESSED


def test_a_weak_single_identifier_never_binds(production_server):
    _, ci = production_server
    before = snapshot(ci)
    weak = native_report(**ATTACKER)
    weak["device"]["manufacturer"] = ""  # a serial number without its manufacturer
    stranger = make_agent()
    report = submit(stranger, weak)
    assert report.status == ReportStatus.HELD
    assert held_discrepancy(stranger).detail["weak"] is True
    stranger.agent.refresh_from_db()
    assert stranger.agent.ci is None and snapshot(ci) == before
    # A host name alone is no match at all: another machine, its own CI, its own key.
    namesake = make_agent()
    same_name = native_report(
        hostname=ci.hostname,
        uuid="5d6e7f80-1a2b-4c3d-9e8f-aabbccddeeff",
        serial="",
        mac="52:54:00:99:99:99",
    )
    assert submit(namesake, same_name).status == ReportStatus.PROCESSED
    namesake.agent.refresh_from_db()
    assert namesake.agent.ci_id not in (None, ci.pk)


def switch_report(**overrides) -> dict:
    document = native_report(
        hostname="core-sw-1", uuid="", serial="FOC1243W0ED", packages=0, mac="00:23:ac:6a:01:00"
    )
    document["item_type"] = "network_equipment"
    document["device"].update({"manufacturer": "Cisco", "model": "Catalyst 3750", **overrides})
    for section in ("software", "storage", "events", "security"):
        document.pop(section)
    return document


def make_collector():
    collector = make_agent(name="netdisco")
    Agent.objects.filter(pk=collector.agent.pk).update(is_collector=True)
    collector.agent.refresh_from_db()
    return collector


def test_a_collector_creates_and_updates_a_switch_without_binding():
    collector = make_collector()
    first = submit(collector, switch_report())
    assert first.status == ReportStatus.PROCESSED, first.error
    switch = ConfigurationItem.objects.get()
    assert switch.ci_type.slug == "network-device"
    second = submit(collector, switch_report(model="Catalyst 3750-X"))
    assert second.status == ReportStatus.PROCESSED and second.ci_id == switch.pk
    switch.refresh_from_db()
    assert switch.attributes["model"] == "Catalyst 3750-X"
    collector.agent.refresh_from_db()
    assert collector.agent.ci is None
    # A plain key may not report network devices at all.
    plain = make_agent()
    refused = submit(plain, switch_report())
    assert refused.status == ReportStatus.REJECTED and "collector" in refused.error


def test_a_collector_cannot_overwrite_a_ci_bound_to_another_key(production_server):
    collector = make_collector()
    submit(collector, switch_report())
    switch = ConfigurationItem.objects.get(ci_type__slug="network-device")
    owner = make_agent(name="switch agent")
    Agent.objects.filter(pk=owner.agent.pk).update(ci=switch)
    before = snapshot(switch)
    report = submit(collector, switch_report(model="Something else"))
    assert report.status == ReportStatus.HELD
    assert snapshot(switch) == before
    # Nor a server that happens to share a serial number and maker with what it reports.
    _, server = production_server
    server_before = snapshot(server)
    looks_like_server = switch_report(serial_number="SRV-0001", manufacturer="Dell Inc.")
    assert submit(collector, looks_like_server).status == ReportStatus.HELD
    assert snapshot(server) == server_before


def test_report_transitions_are_data_and_enforced(production_server):
    assert ReportStatus.HELD in REPORT_TRANSITIONS[ReportStatus.RECEIVED]
    assert REPORT_TRANSITIONS[ReportStatus.PROCESSED] == frozenset()
    owner, _ = production_server
    processed = owner.agent.reports.get()
    with pytest.raises(ApplicationError):
        services.report_mark_rejected(processed, "too late")


def test_the_database_refuses_an_unknown_status(production_server):
    from django.db import IntegrityError, transaction

    owner, _ = production_server
    with pytest.raises(IntegrityError), transaction.atomic():
        owner.agent.reports.update(status="bogus")
    with pytest.raises(IntegrityError), transaction.atomic():
        Discrepancy.objects.create(
            ci=ConfigurationItem.objects.get(),
            kind=DiscrepancyKind.STALE,
            message="x",
            status="bogus",
            last_seen="2026-01-01T00:00:00Z",
        )


# --- the API and the pages ------------------------------------------------------------------


def test_api_approve_and_refuse_binding(production_server, manager_api, readonly_api):
    _owner, ci = production_server
    intruder, other = make_agent(), make_agent()
    submit(intruder, native_report(**ATTACKER))
    submit(other, native_report(**{**ATTACKER, "hostname": "evil-02"}))
    first, second = held_discrepancy(intruder), held_discrepancy(other)
    url = "/api/v1/agents/discrepancies/{}/{}/"
    assert readonly_api.post(url.format(first.pk, "approve-binding")).status_code == 403
    assert readonly_api.post(url.format(first.pk, "refuse-binding")).status_code == 403
    refused = manager_api.post(url.format(second.pk, "refuse-binding"), {"note": "no"})
    assert refused.status_code == 200 and refused.json()["status"] == "refused"
    answer = manager_api.post(url.format(first.pk, "approve-binding"), {}, format="json")
    assert answer.status_code == 200, answer.json()
    assert answer.json()["status"] == "resolved"
    intruder.agent.refresh_from_db()
    assert intruder.agent.ci_id == ci.pk
    again = manager_api.post(url.format(first.pk, "approve-binding"))
    assert again.status_code == 400
    # An ordinary discrepancy has no binding to approve.
    stale = Discrepancy.objects.create(ci=ci, kind="stale", message="x", last_seen=ci.updated)
    assert manager_api.post(url.format(stale.pk, "approve-binding")).status_code == 400


def test_collector_flag_is_set_by_a_cmdb_manager_only(manager_api, readonly_api):
    agent = make_agent().agent
    url = f"/api/v1/agents/{agent.pk}/"
    assert readonly_api.get(url).json()["collector"] is False
    assert readonly_api.patch(url, {"collector": True}, format="json").status_code == 403
    answer = manager_api.patch(url, {"collector": True}, format="json")
    assert answer.status_code == 200 and answer.json()["collector"] is True
    agent.refresh_from_db()
    assert agent.is_collector is True
    log = SecurityEvent.objects.get(reason=RejectionReason.COLLECTOR)
    assert log.key_id == agent.key_id and "a collector" in log.detail


def test_binding_buttons_in_the_pages(production_server, client, make_user):
    _owner, ci = production_server
    intruder = make_agent()
    submit(intruder, native_report(**ATTACKER))
    item = held_discrepancy(intruder)
    reader = make_user("Read Only")
    client.force_login(reader)
    assert client.post(f"/agents/discrepancies/{item.pk}/approve-binding/").status_code == 403
    page = client.get("/agents/discrepancies/").content.decode()
    assert "Approve binding" not in page
    client.force_login(make_user("CMDB Manager"))
    page = client.get("/agents/discrepancies/").content.decode()
    assert "Approve binding" in page and f"/agents/discrepancies/{item.pk}/refuse-binding/" in page
    detail = client.get(f"/agents/{intruder.agent.pk}/").content.decode()
    assert "agent-holds" in detail and "Approve binding" in detail
    answer = client.post(f"/agents/discrepancies/{item.pk}/approve-binding/", {"resolution": "ok"})
    assert answer.status_code == 302
    intruder.agent.refresh_from_db()
    assert intruder.agent.ci_id == ci.pk


def test_reinstalling_a_machine_goes_through_the_approval(production_server, cmdb_manager):
    owner, ci = production_server
    services.agent_revoke(context=ctx(cmdb_manager), agent_id=owner.agent.pk)
    reinstalled = make_agent(name="web-01 reinstalled")
    report = submit(reinstalled, native_report(packages=2))  # the very same machine, a new key
    assert report.status == ReportStatus.HELD
    assert held_discrepancy(reinstalled).detail["matched_by"] == "uuid"
    binding.binding_approve(
        context=ctx(cmdb_manager), discrepancy_id=held_discrepancy(reinstalled).pk
    )
    reinstalled.agent.refresh_from_db()
    owner.agent.refresh_from_db()
    assert reinstalled.agent.ci_id == ci.pk and owner.agent.ci_id is None
    assert InstalledSoftware.objects.filter(ci=ci).count() == 2
    assert submit(reinstalled, native_report(packages=2)).status == ReportStatus.PROCESSED


@pytest.mark.parametrize(
    ("table", "check", "values"),
    [
        (REPORT_TRANSITIONS, services.check_report_move, ReportStatus.values),
        (DISCREPANCY_TRANSITIONS, discrepancies.check_move, DiscrepancyStatus.values),
    ],
)
def test_every_move_is_allowed_or_refused_by_its_table(table, check, values):
    assert set(table) == set(values)
    for source in values:
        for target in values:
            if target in table[source]:
                check(source, target)
            else:
                with pytest.raises(ApplicationError):
                    check(source, target)
