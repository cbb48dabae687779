"""`seed_demo` and `demo_logins`: a believable, deterministic, idempotent demo organisation."""

from __future__ import annotations

import io
from collections import Counter

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.db import transaction
from django.test import override_settings

from agents.choices import AgentStatus, DiscrepancyKind, DiscrepancyStatus, ReportStatus
from agents.models import Agent, Discrepancy, InventoryReport, Nonce
from cmdb import services
from cmdb.demo import catalogue
from cmdb.demo.blueprint import make_blueprint
from cmdb.history import ChangeContext
from cmdb.models import (
    CIRole,
    ConfigurationItem,
    Department,
    HistoryEntry,
    InstalledSoftware,
    Person,
    Relationship,
    Site,
    SoftwareProduct,
    SoftwareVersion,
    StatusChange,
)
from cmdb.selectors import cis_running, impact_analysis
from itsm import roles

STANDARD_TYPES = {
    "server",
    "virtual-machine",
    "desktop",
    "laptop",
    "network-device",
    "printer",
    "phone",
    "database",
    "application",
    "business-service",
}
RELATIONSHIP_TYPES = {"hosts", "connects", "provides", "supports", "required-by"}
SMALL = 200  # CIs: the fixed infrastructure (~140) plus some end-user devices
FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fast_hashing(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


def seed(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def logins(*args: str) -> str:
    out = io.StringIO()
    call_command("demo_logins", *args, stdout=out)
    return out.getvalue()


def row_counts() -> dict[str, int]:
    user_model = get_user_model()
    models = [
        user_model,
        user_model.groups.through,
        Person,
        Site,
        Department,
        ConfigurationItem,
        Relationship,
        CIRole,
        InstalledSoftware,
        SoftwareProduct,
        SoftwareVersion,
        HistoryEntry,
        StatusChange,
        Agent,
        InventoryReport,
        Discrepancy,
    ]
    return {model.__name__: model.objects.count() for model in models}


@pytest.fixture(scope="class")
def _seeded_once(django_db_setup, django_db_blocker):
    """Seed once for a class of tests, in a transaction rolled back after its last test.

    Each test still runs in its own savepoint (the `db` fixture), so tests may change data.
    """
    with (
        django_db_blocker.unblock(),
        override_settings(PASSWORD_HASHERS=FAST_HASHERS),
        transaction.atomic(),
    ):
        yield seed("--cis", str(SMALL))
        transaction.set_rollback(True)


@pytest.fixture
def seeded(_seeded_once, db):
    return _seeded_once


# --- the plan, without a database -----------------------------------------------------------


def test_blueprint_is_deterministic_and_about_the_asked_size():
    plan = make_blueprint()
    assert repr(plan) == repr(make_blueprint())
    assert len(plan.cis) == catalogue.DEFAULT_CI_COUNT
    assert set(plan.counts()) == STANDARD_TYPES
    assert plan.counts()["desktop"] + plan.counts()["laptop"] > 250


def test_blueprint_names_and_identifiers_are_unique_and_links_resolve():
    plan = make_blueprint()
    names = [ci.name for ci in plan.cis]
    assert len(names) == len(set(names))
    for field in ("serial_number", "asset_tag", "uuid", "hostname"):
        values = [getattr(ci, field) for ci in plan.cis if getattr(ci, field)]
        assert len(values) == len(set(values)), field
    assert {r.source for r in plan.relationships} <= set(names)
    assert {r.target for r in plan.relationships} <= set(names)
    assert len(plan.relationships) == len(set(plan.relationships))
    usernames = [p.username for p in plan.people]
    assert len(usernames) == len(set(usernames))


def test_blueprint_never_drops_the_fixed_infrastructure():
    plan = make_blueprint(ci_count=1)
    assert set(plan.counts()) == STANDARD_TYPES
    assert len(plan.cis) < 160


# --- a fresh database each ------------------------------------------------------------------


def test_password_option(db):
    seed("--cis", "1", "--password", "An0ther-demo-secret")
    assert (
        get_user_model().objects.get(username="emma.clarke").check_password("An0ther-demo-secret")
    )


def test_second_run_at_full_size_creates_nothing(db):
    first = seed()
    assert ConfigurationItem.objects.count() == catalogue.DEFAULT_CI_COUNT
    before = row_counts()
    second = seed()
    assert row_counts() == before
    assert "(0 rows created)" not in first
    assert "(0 rows created)" in second


def test_demo_logins_without_demo_data_fails_clearly(db):
    with pytest.raises(CommandError, match="seed_demo"):
        logins()


# --- one seeded database for the whole class ------------------------------------------------


class TestSeededDemo:
    """The demo seeded once (`--cis SMALL`) for all these tests; each runs in a savepoint."""

    # --- people ------------------------------------------------------------------------------

    def test_every_role_group_has_people(self, seeded):
        for name in roles.ROLE_PERMISSIONS:
            assert Group.objects.get(name=name).user_set.exists(), name
        assert Group.objects.get(name=roles.SERVICE_DESK).user_set.count() >= 3
        assert Group.objects.get(name=roles.CAB_MEMBER).user_set.count() >= 3

    def test_people_have_names_emails_departments_and_job_titles(self, seeded):
        user_model = get_user_model()
        users = user_model.objects.exclude(username="admin").select_related("person__department")
        assert users.count() > 25
        for user in users:
            assert user.first_name and user.last_name and "@" in user.email
            assert user.person.department is not None and user.person.job_title

    def test_ordinary_staff_without_a_role_own_computers(self, seeded):
        staff = get_user_model().objects.filter(groups__isnull=True, is_superuser=False)
        owners = staff.filter(owned_cis__ci_type__slug__in=["desktop", "laptop"]).distinct()
        assert owners.count() >= 3

    def test_admin_is_a_superuser_and_passwords_are_the_demo_password(self, seeded):
        admin = get_user_model().objects.get(username="admin")
        assert admin.is_superuser and admin.is_staff
        assert admin.check_password(catalogue.DEFAULT_PASSWORD)
        agent = get_user_model().objects.get(username="amelia.hughes")
        assert agent.check_password(catalogue.DEFAULT_PASSWORD)
        assert not agent.is_staff

    def test_sites_and_departments(self, seeded):
        assert Site.objects.count() >= 3
        assert Department.objects.count() >= 8
        assert not Department.objects.filter(site__isnull=True).exists()

    # --- configuration items -----------------------------------------------------------------

    def test_cis_of_every_standard_type_with_valid_attributes(self, seeded):
        cis = ConfigurationItem.objects.select_related("ci_type")
        assert {ci.ci_type.slug for ci in cis} == STANDARD_TYPES
        for ci in cis:
            services.validate_attributes(ci.ci_type, ci.attributes)  # raises if invalid
        hardware = cis.filter(ci_type__slug__in=["server", "desktop", "laptop"])
        assert not hardware.filter(serial_number="").exists()
        assert not hardware.filter(asset_tag="").exists()
        assert not hardware.filter(uuid="").exists()
        assert cis.filter(hostname="lon-web-01", ci_type__slug="virtual-machine").exists()

    def test_statuses_are_mostly_production_with_lifecycle_moves(self, seeded):
        statuses = Counter(ConfigurationItem.objects.values_list("status", flat=True))
        assert statuses["production"] > 0.8 * sum(statuses.values())
        assert {"ordered", "received", "under_test", "under_repair", "disposed"} <= set(statuses)
        moves = StatusChange.objects.all()
        assert moves.exists()
        assert {m.to_status for m in moves} <= {"under_test", "under_repair", "disposed"}

    def test_owners_departments_sites_and_roles(self, seeded):
        assert not ConfigurationItem.objects.filter(
            ci_type__slug__in=["server", "virtual-machine", "network-device", "printer"],
            site__isnull=True,
        ).exists()
        service = ConfigurationItem.objects.get(name="Online shop")
        assert service.owner.username == "isabel.moreno"
        kinds = set(CIRole.objects.values_list("role", flat=True))
        assert {
            "systems_manager",
            "network_administrator",
            "application_administrator",
            "database_administrator",
            "business_owner",
        } <= kinds

    def test_history_is_recorded_as_the_seed(self, seeded):
        entries = HistoryEntry.objects.all()
        assert entries.filter(kind=HistoryEntry.Kind.CREATED).count() == (
            ConfigurationItem.objects.count()
        )
        # Everything but what the demo agents reported and the demo's deployed release wrote
        # (software it installed, with its number as source) is the seed's own.
        assert set(
            entries.exclude(source__in=("agent", "release")).values_list("source", "source_ref")
        ) == {("system", "seed_demo")}
        released = set(entries.filter(source="release").values_list("kind", "source_ref"))
        assert all(kind == "software" and ref.startswith("REL-") for kind, ref in released)

    # --- relationships and software ----------------------------------------------------------

    def test_relationships_form_a_dependency_graph(self, seeded):
        used = set(Relationship.objects.values_list("type__slug", flat=True))
        assert used == RELATIONSHIP_TYPES
        pairs = set(
            Relationship.objects.values_list(
                "source__ci_type__slug", "type__slug", "target__ci_type__slug"
            )
        )
        assert ("server", "hosts", "virtual-machine") in pairs
        assert ("network-device", "connects", "server") in pairs
        assert ("virtual-machine", "hosts", "database") in pairs
        assert ("database", "provides", "application") in pairs
        assert ("application", "supports", "business-service") in pairs
        # Nothing on order or scrapped takes part in the graph.
        assert not Relationship.objects.filter(source__status__in=["ordered", "disposed"]).exists()
        assert not Relationship.objects.filter(target__status__in=["ordered", "disposed"]).exists()

    def test_business_services_have_upstream_dependencies(self, seeded):
        for service in ConfigurationItem.objects.filter(ci_type__slug="business-service"):
            result = impact_analysis(ci=service, direction="upstream", depth=5)
            reached = {node["ci_type"] for node in result.nodes}
            assert "application" in reached, service.name
            assert {"virtual-machine", "server"} & reached, service.name
            assert "network-device" in reached, service.name
        shop = impact_analysis(
            ci=ConfigurationItem.objects.get(name="Online shop"), direction="upstream", depth=3
        )
        assert {"shop-db", "Checkout API", "fra-web-01"} <= {n["name"] for n in shop.nodes}

    def test_a_core_switch_failure_reaches_business_services(self, seeded):
        switch = ConfigurationItem.objects.get(name="fra-core-01")
        result = impact_analysis(ci=switch, direction="downstream", depth=8)
        assert "Online shop" in {n["name"] for n in result.nodes}

    def test_installed_software_answers_which_cis_run_openssl_3_0_2(self, seeded):
        cis = ConfigurationItem.objects.all()
        vulnerable = cis_running(cis, product="openssl", version="3.0.2")
        with_openssl = cis_running(cis, product="openssl")
        assert 0 < vulnerable.count() < with_openssl.count()
        assert set(vulnerable.values_list("ci_type__slug", flat=True)) <= {
            "server",
            "virtual-machine",
        }
        assert SoftwareVersion.objects.filter(product__name="openssl").count() >= 3

    def test_desktops_get_office_software_and_servers_get_server_packages(self, seeded):
        cis = ConfigurationItem.objects.all()
        office = cis_running(cis, product="Microsoft Office")
        assert office.exists()
        assert set(office.values_list("ci_type__slug", flat=True)) <= {"desktop", "laptop"}
        nginx = cis_running(cis, product="nginx")
        assert nginx.exists()
        assert set(nginx.values_list("ci_type__slug", flat=True)) <= {"server", "virtual-machine"}
        assert cis_running(cis, product="Google Chrome").exists()
        # Machines not yet imaged, or wiped, have nothing installed.
        assert not InstalledSoftware.objects.filter(ci__status__in=["ordered", "received"]).exists()

    # --- idempotency -------------------------------------------------------------------------

    def test_seed_tops_up_what_is_missing_and_keeps_changes(self, seeded):
        before = row_counts()
        ci = ConfigurationItem.objects.get(name="fra-web-01")
        services.ci_update(
            context=ChangeContext(source="user"),
            ci_id=ci.pk,
            data={"description": "Changed by hand"},
            expected_version=None,
        )
        ConfigurationItem.objects.get(name="lon-prn-01").delete()
        Relationship.objects.filter(target__name="Payroll").first().delete()
        get_user_model().objects.get(username="noah.davies").delete()

        seed("--cis", str(SMALL))

        assert ConfigurationItem.objects.get(name="fra-web-01").description == "Changed by hand"
        assert ConfigurationItem.objects.filter(name="lon-prn-01").exists()
        user = get_user_model().objects.get(username="noah.davies")
        assert user.groups.filter(name=roles.READ_ONLY).exists()
        after = row_counts()
        assert after["ConfigurationItem"] == before["ConfigurationItem"]
        assert after["Relationship"] == before["Relationship"]
        assert after["User"] == before["User"]

    def test_seed_prints_a_summary_of_counts(self, seeded):
        assert "configuration items" in seeded
        assert "relationships" in seeded
        assert "installed software" in seeded
        assert catalogue.DEFAULT_PASSWORD not in seeded

    # --- demo agents ---------------------------------------------------------------------------

    def test_demo_agents_enrolled_and_reported_through_the_signed_path(self, seeded):
        agents = Agent.objects.all()
        assert agents.count() == 4
        assert set(agents.values_list("status", flat=True)) == {AgentStatus.ACTIVE}
        assert not agents.filter(last_report_at__isnull=True).exists()
        reports = InventoryReport.objects.all()
        assert reports.count() == 5
        assert set(reports.values_list("status", flat=True)) == {ReportStatus.PROCESSED}
        # Signed requests leave their nonces; the enrolment tokens were used once each.
        assert Nonce.objects.count() == 5
        # The reported machines are the CMDB's own CIs; no CI was created by a report.
        assert set(reports.values_list("ci__ci_type__slug", flat=True)) == {
            "server",
            "laptop",
            "desktop",
        }
        assert not HistoryEntry.objects.filter(
            source="agent", kind=HistoryEntry.Kind.CREATED
        ).exists()
        assert "inventory reports" in seeded and "agents" in seeded

    def test_demo_reports_open_discrepancies(self, seeded):
        open_items = Discrepancy.objects.filter(status=DiscrepancyStatus.OPEN)
        kinds = set(open_items.values_list("kind", flat=True))
        assert {DiscrepancyKind.HARDWARE_CHANGED, DiscrepancyKind.UNAPPROVED_SOFTWARE} <= kinds
        assert open_items.filter(key__startswith="AnyDesk").exists()

    def test_agent_pages_have_content(self, seeded, client):
        client.force_login(get_user_model().objects.get(username="admin"))
        health = client.get("/agents/health/")
        assert health.status_code == 200
        page = health.content.decode()
        assert "Server" in page and "Laptop" in page
        discrepancies = client.get("/agents/discrepancies/").content.decode()
        assert "AnyDesk" in discrepancies and "Memory changed" in discrepancies
        agents_page = client.get("/agents/").content.decode()
        for agent in Agent.objects.all():
            assert agent.name in agents_page

    def test_a_second_seed_enrols_no_agent_twice(self, seeded):
        before = row_counts()
        out = seed("--cis", str(SMALL))
        assert row_counts() == before
        assert "(0 rows created)" in out

    # --- demo_logins -------------------------------------------------------------------------

    def test_demo_logins_prints_every_role_and_the_url(self, seeded):
        out = logins()
        assert catalogue.DEV_SERVER_URL in out
        for name in roles.ROLE_PERMISSIONS:
            assert name in out, name
        assert "admin" in out
        assert catalogue.DEFAULT_PASSWORD in out
        assert "incident caller" in out

    def test_demo_logins_flags_changed_passwords(self, seeded):
        user = get_user_model().objects.get(username="grace.okafor")
        user.set_password("Someth1ng-else!")
        user.save()
        line = next(line for line in logins().splitlines() if line.startswith("grace.okafor"))
        assert "(changed)" in line
        assert catalogue.DEFAULT_PASSWORD not in line
