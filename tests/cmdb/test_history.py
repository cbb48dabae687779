"""CI history and the as-of view: readable (names, labels, "—"), network and storage changes as
kinds of their own, history on the one audit log, admin writes recorded with source admin."""

from __future__ import annotations

import datetime as dt

import pytest
from django.apps import apps as global_apps
from django.db import connection
from django.utils import timezone

from cmdb import selectors, services
from cmdb.history import ChangeContext, record_change
from cmdb.models import ConfigurationItem, HistoryEntry
from itsm.audit import entries_for
from itsm.models import AuditEntry
from tests.factories import SYSTEM, CIFactory, DepartmentFactory, SiteFactory, server_type

pytestmark = pytest.mark.django_db

NETWORK_CHANGE = {
    "network": {
        "added": [{"name": "eth1", "mac": "52:54:00:00:00:02", "ipv4": ["10.0.0.7"]}],
        "removed": [],
        "changed": [],
    }
}


@pytest.fixture
def manager_client(client, cmdb_manager):
    client.force_login(cmdb_manager)
    return client


def changed_ci(make_user):
    """A CI whose owner, site, department, status and attributes changed, with a network
    change recorded as reconciliation records it."""
    owner = make_user(None, first_name="Ada", last_name="Lovelace")
    site, department = SiteFactory(name="Frankfurt DC"), DepartmentFactory(name="Finance")
    ci = CIFactory(ci_type=server_type(), attributes={"os": "Debian"})
    services.ci_update(
        context=SYSTEM,
        ci_id=ci.pk,
        data={
            "owner": owner,
            "site": site,
            "department": department,
            "attributes": {"os": "Debian", "cpu_cores": 8},
        },
        expected_version=None,
    )
    services.ci_transition(context=SYSTEM, ci_id=ci.pk, to_status="received")
    ci.refresh_from_db()
    record_change(ci=ci, kind=HistoryEntry.Kind.NETWORK, changes=NETWORK_CHANGE, context=SYSTEM)
    return ci, owner


def test_history_page_shows_names_and_labels(manager_client, make_user):
    ci, owner = changed_ci(make_user)
    page = manager_client.get(f"/cmdb/cis/{ci.pk}/").content.decode()
    history = page[page.index('id="history-card"') :]
    assert f"Ada Lovelace ({owner.username})" in history
    assert "Frankfurt DC" in history and "Finance" in history
    assert "Received (pending testing)" in history and "Ordered" in history
    assert "Attribute cpu_cores" in history and "— → 8" in history
    assert "eth1 (52:54:00:00:00:02, 10.0.0.7)" in history
    assert "Network interfaces" in history
    for internal in (f"owner {owner.pk}", "None", "{'", "received →", "under_test"):
        assert internal not in history, internal


def test_api_history_keeps_changes_and_adds_a_summary(manager_api, make_user):
    ci, owner = changed_ci(make_user)
    results = manager_api.get(f"/api/v1/cmdb/cis/{ci.pk}/history/").json()["results"]
    by_kind = {r["kind"]: r for r in results}
    assert {"at", "actor", "source", "changes", "reason"} <= set(by_kind["updated"])
    assert by_kind["updated"]["changes"]["owner"] == {"old": None, "new": owner.pk}
    assert by_kind["status"]["changes"] == {"status": {"old": "ordered", "new": "received"}}
    assert by_kind["network"]["changes"] == NETWORK_CHANGE
    assert f"Owner: — → Ada Lovelace ({owner.username})" in by_kind["updated"]["summary"]
    assert "Status: Ordered → Received (pending testing)" in by_kind["status"]["summary"]


def test_readable_history_has_a_fixed_number_of_queries(
    make_user, django_assert_num_queries, django_assert_max_num_queries
):
    ci, _ = changed_ci(make_user)
    # entries, then users, sites, departments, CI types: one query per kind of object named
    with django_assert_num_queries(5):
        few = selectors.ci_history_display(ci)
    for i in range(10):
        other = make_user(None)
        services.ci_update(
            context=SYSTEM,
            ci_id=ci.pk,
            data={"owner": other, "site": SiteFactory(), "name": f"renamed-{i}"},
            expected_version=None,
        )
    with django_assert_num_queries(5):
        many = selectors.ci_history_display(ci)
    assert len(many) == len(few) + 10


def test_as_of_rebuilds_only_real_fields(manager_client, make_user):
    ci = CIFactory(ci_type=server_type(), attributes={"os": "Debian"})
    past = timezone.now()
    HistoryEntry.objects.filter(ci=ci).update(at=past - dt.timedelta(seconds=10))
    services.ci_update(
        context=SYSTEM,
        ci_id=ci.pk,
        data={"site": SiteFactory(name="Branch Office")},
        expected_version=None,
    )
    record_change(ci=ci, kind=HistoryEntry.Kind.NETWORK, changes=NETWORK_CHANGE, context=SYSTEM)
    storage = {"storage": {"added": ["/data"], "removed": [], "resized": []}}
    record_change(ci=ci, kind=HistoryEntry.Kind.STORAGE, changes=storage, context=SYSTEM)
    as_of = selectors.ci_as_of(ci, past)
    assert as_of.exists and as_of.fields["site"] is None
    assert "network" not in as_of.fields and "storage" not in as_of.fields
    labels = {line.label: line.new for line in as_of.readable}
    assert labels["Site"] == "—" and labels["Status"] == "Ordered"
    assert labels["Type"] == "Test server" and labels["Attribute os"] == "Debian"
    page = manager_client.get(f"/cmdb/cis/{ci.pk}/", {"at": past.strftime("%Y-%m-%dT%H:%M:%S")})
    as_of_html = page.content.decode().split('id="as-of"')[1].split("</div>")[0]
    assert "Test server" in as_of_html and "test-server" not in as_of_html
    assert "network" not in as_of_html.lower() and "None" not in as_of_html


def test_reconciliation_records_network_and_storage_as_their_own_kinds():
    from tests.agents.conftest import make_agent, native_report
    from tests.agents.test_reconcile import submit

    agent = make_agent()
    submit(agent, native_report())
    document = native_report()
    document["network"][0]["ipv4"] = ["10.0.0.99"]
    document["storage"].append({"mount": "/srv", "size_mb": 1000, "used_mb": 1})
    submit(agent, document)
    ci = ConfigurationItem.objects.get()
    kinds = set(HistoryEntry.objects.filter(ci=ci).values_list("kind", flat=True))
    assert {"network", "storage"} <= kinds
    assert not HistoryEntry.objects.filter(ci=ci, kind="updated", changes__has_key="network")


def test_history_is_the_audit_log_and_outlives_the_ci(cmdb_manager):
    ci = CIFactory(ci_type=server_type(), attributes={"os": "Debian"})
    pk = ci.pk
    services.ci_delete(context=ChangeContext(actor=cmdb_manager), ci_id=pk)
    entries = AuditEntry.objects.filter(object_id=pk).order_by("id")
    assert [e.kind for e in entries] == ["created", "deleted"]
    assert entries[1].actor == cmdb_manager and entries[1].object_repr == ci.name
    assert list(HistoryEntry.objects.filter(ci_id=pk).values_list("kind", flat=True)) == [
        "deleted",
        "created",
    ]


def test_many_entries_go_in_one_statement(django_assert_num_queries):
    from cmdb.history import new_entry, record_many

    cis = [CIFactory(ci_type=server_type(), attributes={"os": "x"}) for _ in range(3)]
    entries = [
        new_entry(
            ci=ci, kind="updated", changes={"name": {"old": "a", "new": str(i)}}, context=SYSTEM
        )
        for i in range(60)
        for ci in cis
    ]
    if connection.vendor == "postgresql":
        with django_assert_num_queries(1):
            record_many(entries)  # one COPY (>= 100 entries)
    else:
        record_many(entries)  # bulk INSERTs, as many as SQLite's parameter limit needs
    assert HistoryEntry.objects.filter(ci__in=cis, kind="updated").count() == 180
    assert entries_for(cis[0]).filter(kind="updated").count() == 60


@pytest.mark.django_db(transaction=True)
def test_data_migration_moves_history_and_rekinds_sections():
    """Back to the old table, rows written there, forward again: copied, sections re-kinded."""
    from django.db.migrations.executor import MigrationExecutor

    ci = CIFactory(ci_type=server_type(), attributes={"os": "x"})
    before, after = (
        [("cmdb", "0007_drop_redundant_fk_indexes")],
        [("cmdb", "0008_audit_history_to_itsm")],
    )
    try:
        executor = MigrationExecutor(connection)
        executor.migrate(before)
        old = MigrationExecutor(connection).loader.project_state(before).apps
        history = old.get_model("cmdb", "HistoryEntry")
        history.objects.all().delete()
        now = timezone.now()
        common = {"ci_id": ci.pk, "ci_name": ci.name, "at": now, "source": "agent", "reason": ""}
        history.objects.create(kind="updated", changes=NETWORK_CHANGE, **common)
        history.objects.create(kind="updated", changes={"storage": {"added": ["/x"]}}, **common)
        history.objects.create(kind="updated", changes={"name": {"old": "a", "new": "b"}}, **common)
        history.objects.create(
            kind="created", changes={}, **{**common, "ci_id": None, "ci_name": "gone"}
        )
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(after)
        kinds = sorted(HistoryEntry.objects.filter(ci=ci).values_list("kind", flat=True))
        assert kinds == ["network", "storage", "updated"]
        assert HistoryEntry.objects.get(object_repr="gone").object_id is None
        assert global_apps.get_model("cmdb", "HistoryEntry")._meta.proxy
    finally:
        # Back to every app's latest migration: later tests need the whole schema.
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())


def test_admin_edit_of_a_ci_is_recorded_with_source_admin(admin_client, admin_user):
    ci = CIFactory(ci_type=server_type(), attributes={"os": "Debian"})
    url = f"/admin/cmdb/configurationitem/{ci.pk}/change/"
    form = {
        "name": "renamed-in-admin",
        "description": "",
        "ci_type": ci.ci_type_id,
        "managed": "on",
        "owner": "",
        "department": "",
        "site": "",
        "serial_number": "",
        "asset_tag": "",
        "hostname": "",
        "uuid": "",
        "attributes": '{"os": "Debian"}',
        "roles-TOTAL_FORMS": "0",
        "roles-INITIAL_FORMS": "0",
        "roles-MIN_NUM_FORMS": "0",
        "roles-MAX_NUM_FORMS": "1000",
    }
    response = admin_client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:3000]
    ci.refresh_from_db()
    assert ci.name == "renamed-in-admin" and ci.version == 2
    entry = HistoryEntry.objects.filter(ci=ci, kind="updated").get()
    assert entry.source == "admin" and entry.actor == admin_user
    assert entry.changes == {
        "name": {"old": "ci-" + entry.changes["name"]["old"][3:], "new": "renamed-in-admin"}
    }


def test_admin_refuses_invalid_attributes_and_writes_nothing(admin_client):
    ci = CIFactory(ci_type=server_type(), attributes={"os": "Debian"})
    url = f"/admin/cmdb/configurationitem/{ci.pk}/change/"
    response = admin_client.post(
        url,
        {
            "name": ci.name,
            "ci_type": ci.ci_type_id,
            "attributes": '{"cpu_cores": 0}',
            "roles-TOTAL_FORMS": "0",
            "roles-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert not HistoryEntry.objects.filter(ci=ci, kind="updated").exists()


def test_admin_delete_of_a_ci_goes_through_the_service(admin_client):
    ci = CIFactory(ci_type=server_type(), attributes={"os": "Debian"})
    response = admin_client.post(f"/admin/cmdb/configurationitem/{ci.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not ConfigurationItem.objects.filter(pk=ci.pk).exists()
    assert HistoryEntry.objects.get(ci_id=ci.pk, kind="deleted").source == "admin"


def test_admin_add_of_a_ci_goes_through_the_service(admin_client, admin_user):
    ci_type = server_type()
    response = admin_client.post(
        "/admin/cmdb/configurationitem/add/",
        {
            "name": "added-in-admin",
            "ci_type": ci_type.pk,
            "managed": "on",
            "hostname": "WEB-01.Example.org.",
            "attributes": '{"os": "Debian"}',
            "roles-TOTAL_FORMS": "1",
            "roles-INITIAL_FORMS": "0",
            "roles-0-user": admin_user.pk,
            "roles-0-role": "systems_manager",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    ci = ConfigurationItem.objects.get(name="added-in-admin")
    assert ci.hostname == "web-01.example.org"  # normalised by the service
    kinds = {e.kind: e.source for e in HistoryEntry.objects.filter(ci=ci)}
    assert kinds == {"created": "admin", "role": "admin"}
    assert list(ci.roles.values_list("user", "role")) == [(admin_user.pk, "systems_manager")]


def test_api_as_of_keeps_fields_and_adds_a_summary(manager_api):
    ci = CIFactory(ci_type=server_type(), attributes={"os": "Debian"})
    past = timezone.now()
    HistoryEntry.objects.filter(ci=ci).update(at=past - dt.timedelta(seconds=10))
    record_change(ci=ci, kind=HistoryEntry.Kind.NETWORK, changes=NETWORK_CHANGE, context=SYSTEM)
    body = manager_api.get(f"/api/v1/cmdb/cis/{ci.pk}/as-of/", {"at": past.isoformat()}).json()
    assert body["fields"]["ci_type"] == "test-server" and "network" not in body["fields"]
    assert "Type: Test server" in body["summary"] and "Owner: —" in body["summary"]
