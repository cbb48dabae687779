"""Web UI of the agents app: pages, permissions, actions through the services, the one-time
token secret, form errors, query counts, the CI page's discovery card and the health page."""

from __future__ import annotations

import hashlib
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agents.choices import AgentStatus, DiscrepancyKind, DiscrepancyStatus, RejectionReason
from agents.models import Agent, AgentGroup, CIEvent, Discrepancy, EnrollmentToken, SecurityEvent
from agents.services import rejection_record
from cmdb.models import ConfigurationItem, NetworkInterface, StorageVolume
from tests.agents.conftest import make_agent, native_report
from tests.agents.test_reconcile import submit
from tests.factories import CIFactory, server_type

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager_client(client, cmdb_manager):
    client.force_login(cmdb_manager)
    return client


@pytest.fixture
def reader_client(client, read_only_user):
    client.force_login(read_only_user)
    return client


def count_queries(client, url: str) -> int:
    client.get(url)  # warm what is cached across requests (permissions with a shared cache)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def open_discrepancy(ci, kind=DiscrepancyKind.UNAPPROVED_SOFTWARE, key="", message="differs"):
    return Discrepancy.objects.create(
        ci=ci, kind=kind, key=key, message=message, last_seen=timezone.now()
    )


def reported_ci():
    """An agent, and the CI its first report created (interfaces, a volume, an event)."""
    signed = make_agent(name="web-01")
    report = submit(signed, native_report())
    assert report.status == "processed", report.error
    signed.agent.refresh_from_db()
    return signed.agent, ConfigurationItem.objects.get(pk=report.ci_id)


# --- every page renders -------------------------------------------------------------------


def test_every_page_renders_for_a_cmdb_manager(manager_client):
    agent, ci = reported_ci()
    open_discrepancy(ci)
    rejection_record(
        reason=RejectionReason.BAD_SIGNATURE, status_code=401, path="/x", remote_addr="10.0.0.9"
    )
    group = AgentGroup.objects.get(name="Default")
    pages = {
        "/agents/": b"web-01",
        f"/agents/{agent.pk}/": agent.key_id.encode(),
        "/agents/tokens/": b"New token",
        "/agents/policies/": b"Default",
        "/agents/policies/new/": b"New collection policy",
        f"/agents/policies/{group.pk}/edit/": b"Edit the policy Default",
        "/agents/discrepancies/": b"differs",
        "/agents/health/": b"Overall score",
        "/agents/security-log/": b"Signature does not verify",
    }
    for url, needle in pages.items():
        response = manager_client.get(url)
        assert response.status_code == 200, url
        assert needle in response.content, url
    home = manager_client.get("/").content.decode()
    for label in ("Agents", "Discrepancies", "CMDB health"):
        assert f">{label}</a>" in home


def test_pages_refuse_a_read_only_user_what_the_role_may_not_see(reader_client):
    assert reader_client.get("/agents/tokens/").status_code == 403
    assert reader_client.get("/agents/security-log/").status_code == 403
    assert reader_client.get("/agents/policies/new/").status_code == 403
    group = AgentGroup.objects.create(name="Servers")
    assert reader_client.get(f"/agents/policies/{group.pk}/edit/").status_code == 403
    for url in ("/agents/", "/agents/discrepancies/", "/agents/health/", "/agents/policies/"):
        assert reader_client.get(url).status_code == 200, url
    nav = reader_client.get("/").content.decode()
    assert ">Agents</a>" in nav and ">Discrepancies</a>" in nav
    assert "Enrolment tokens" not in reader_client.get("/agents/").content.decode()


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    response = client.get("/agents/")
    assert response.status_code == 302 and "/login/" in response["Location"]


# --- agents: list, detail, approve, revoke, update ----------------------------------------


def test_pending_agents_are_highlighted_with_an_approve_button_for_managers_only(
    manager_client, read_only_user, client
):
    pending = make_agent(AgentStatus.PENDING, name="new-laptop").agent
    make_agent(name="old-server")
    page = manager_client.get("/agents/").content.decode()
    assert f'class="table-warning" data-agent="{pending.pk}"' in page
    assert f"/agents/{pending.pk}/approve/" in page
    assert "1</strong> agent waiting for approval" in page

    client.force_login(read_only_user)
    for url in ("/agents/", f"/agents/{pending.pk}/"):
        html = client.get(url).content.decode()
        assert "/approve/" not in html and "/revoke/" not in html and "agent-update" not in html


def test_agent_list_search_filters_and_htmx_partial(manager_client):
    make_agent(AgentStatus.PENDING, name="alpha")
    beta = make_agent(name="beta").agent
    beta.group = AgentGroup.objects.create(name="Servers")
    beta.save()
    assert b"beta" not in manager_client.get("/agents/?q=alp").content
    assert b"alpha" not in manager_client.get("/agents/?status=active").content
    by_policy = manager_client.get("/agents/?policy=Servers&status=").content
    assert b"beta" in by_policy and b"alpha" not in by_policy
    by_key = manager_client.get(f"/agents/?q={beta.key_id}").content
    assert b"beta" in by_key and b"alpha" not in by_key
    partial = manager_client.get("/agents/?q=beta", HTTP_HX_REQUEST="true")
    assert b"<html" not in partial.content and b"beta" in partial.content


def test_approve_and_revoke_through_the_pages(manager_client, cmdb_manager):
    agent = make_agent(AgentStatus.PENDING).agent
    response = manager_client.post(
        f"/agents/{agent.pk}/approve/", {"next": "/agents/?status=pending"}
    )
    assert response.status_code == 302 and response["Location"] == "/agents/?status=pending"
    agent.refresh_from_db()
    assert agent.status == AgentStatus.ACTIVE and agent.approved_by == cmdb_manager

    detail = manager_client.get(f"/agents/{agent.pk}/").content.decode()
    assert "data-confirm=" in detail and f"/agents/{agent.pk}/revoke/" in detail
    response = manager_client.post(f"/agents/{agent.pk}/revoke/", {"next": "https://evil.example/"})
    assert response["Location"] == f"/agents/{agent.pk}/"  # foreign `next` ignored
    agent.refresh_from_db()
    assert agent.status == AgentStatus.REVOKED and agent.revoked_by == cmdb_manager

    # A refused move is a message, not an error page.
    response = manager_client.post(f"/agents/{agent.pk}/approve/", follow=True)
    assert response.status_code == 200
    assert b"cannot move from revoked to active" in response.content
    agent.refresh_from_db()
    assert agent.status == AgentStatus.REVOKED


def test_read_only_users_cannot_approve_revoke_or_update(reader_client):
    agent = make_agent(AgentStatus.PENDING).agent
    group = AgentGroup.objects.create(name="Servers")
    assert reader_client.post(f"/agents/{agent.pk}/approve/").status_code == 403
    assert reader_client.post(f"/agents/{agent.pk}/revoke/").status_code == 403
    update = {"group": group.pk, "is_collector": "on"}
    assert reader_client.post(f"/agents/{agent.pk}/update/", update).status_code == 403
    agent.refresh_from_db()
    assert (agent.status, agent.group.name, agent.is_collector) == (
        AgentStatus.PENDING,
        "Default",
        False,
    )


def test_actions_are_post_only(manager_client):
    agent = make_agent(AgentStatus.PENDING).agent
    assert manager_client.get(f"/agents/{agent.pk}/approve/").status_code == 405
    assert manager_client.get(f"/agents/{agent.pk}/revoke/").status_code == 405
    agent.refresh_from_db()
    assert agent.status == AgentStatus.PENDING


def test_update_policy_and_collector_flag(manager_client):
    agent = make_agent().agent
    group = AgentGroup.objects.create(name="Switches")
    response = manager_client.post(
        f"/agents/{agent.pk}/update/", {"group": group.pk, "is_collector": "on"}
    )
    assert response.status_code == 302
    agent.refresh_from_db()
    assert agent.group == group and agent.is_collector is True
    bad = manager_client.post(f"/agents/{agent.pk}/update/", {"group": 999999})
    assert bad.status_code == 400 and b"Select a valid choice" in bad.content
    agent.refresh_from_db()
    assert agent.group == group and agent.is_collector is True


def test_agent_detail_shows_what_reports_changed(manager_client):
    agent, ci = reported_ci()
    page = manager_client.get(f"/agents/{agent.pk}/").content.decode()
    assert "CI created" in page and ci.get_absolute_url() in page
    assert "processed" in page and "itsm-inventory/1" in page


def test_agent_list_has_a_fixed_number_of_queries(manager_client):
    for i in range(3):
        make_agent(AgentStatus.PENDING if i == 0 else AgentStatus.ACTIVE, name=f"a{i}")
    few = count_queries(manager_client, "/agents/")
    few_filtered = count_queries(manager_client, "/agents/?status=active&policy=Default&q=a")
    for i in range(3, 45):
        signed = make_agent(AgentStatus.PENDING if i % 2 else AgentStatus.ACTIVE, name=f"a{i}")
        signed.agent.ci = CIFactory(ci_type=server_type(), attributes={"os": "x"})
        signed.agent.group = AgentGroup.objects.create(name=f"group-{i}")
        signed.agent.last_seen = timezone.now()
        signed.agent.save()
    assert count_queries(manager_client, "/agents/") == few
    assert (
        count_queries(manager_client, "/agents/?status=active&policy=Default&q=a") == few_filtered
    )


# --- enrolment tokens ---------------------------------------------------------------------


def test_token_creation_shows_the_secret_once_and_stores_only_its_hash(
    manager_client, cmdb_manager
):
    group = AgentGroup.objects.create(name="Laptops")
    response = manager_client.post(
        "/agents/tokens/",
        {"expires_in_hours": "2", "auto_approve": "on", "group": group.pk, "note": "for pc-42"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    secret = re.search(r'id="token-secret" readonly value="(enr_[^"]+)"', html).group(1)
    assert f"itsm-agent enroll --server http://testserver --token {secret}" in html
    assert "no-store" in response["Cache-Control"]

    token = EnrollmentToken.objects.get()
    assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert (token.created_by, token.auto_approve, token.group, token.note) == (
        cmdb_manager,
        True,
        group,
        "for pc-42",
    )
    stored = [str(value) for value in EnrollmentToken.objects.values_list().get()]
    assert all(secret not in value for value in stored)
    assert token.prefix == secret[:10]

    again = manager_client.get("/agents/tokens/").content.decode()
    assert secret not in again and token.prefix in again and "for pc-42" in again
    assert secret not in str(dict(manager_client.session))


@pytest.mark.parametrize("hours", ["0", "-1", "721", "soon", ""])
def test_invalid_token_form_shows_an_error_and_writes_nothing(manager_client, hours):
    response = manager_client.post("/agents/tokens/", {"expires_in_hours": hours})
    assert response.status_code == 400
    assert b"invalid-feedback" in response.content
    assert b'id="new-token"' not in response.content
    assert not EnrollmentToken.objects.exists()


def test_read_only_users_cannot_create_tokens(reader_client):
    assert reader_client.post("/agents/tokens/", {"expires_in_hours": "2"}).status_code == 403
    assert not EnrollmentToken.objects.exists()


# --- policies -----------------------------------------------------------------------------


def test_policy_create_and_edit(manager_client):
    response = manager_client.post(
        "/agents/policies/new/",
        {
            "name": "Servers",
            "interval_seconds": "900",
            "stale_after_missed": "2",
            "collect_software": "on",
        },
    )
    assert response.status_code == 302
    group = AgentGroup.objects.get(name="Servers")
    assert (group.interval_seconds, group.collect_software, group.collect_hardware) == (
        900,
        True,
        False,
    )

    form = manager_client.get(f"/agents/policies/{group.pk}/edit/").content.decode()
    fingerprint = re.search(r'name="fingerprint" value="([0-9a-f]+)"', form).group(1)
    data = {
        "name": "Servers",
        "interval_seconds": "600",
        "stale_after_missed": "3",
        "fingerprint": fingerprint,
    }
    assert manager_client.post(f"/agents/policies/{group.pk}/edit/", data).status_code == 302
    group.refresh_from_db()
    assert group.interval_seconds == 600

    # The same (now stale) form again: refused, nothing overwritten.
    stale = manager_client.post(
        f"/agents/policies/{group.pk}/edit/", {**data, "interval_seconds": "60"}
    )
    assert stale.status_code == 409 and b"Someone changed this policy" in stale.content
    group.refresh_from_db()
    assert group.interval_seconds == 600


def test_policy_form_errors(manager_client):
    AgentGroup.objects.create(name="Servers")
    response = manager_client.post(
        "/agents/policies/new/",
        {"name": "Servers", "interval_seconds": "10", "stale_after_missed": "0"},
    )
    assert response.status_code == 400
    assert b"already exists" in response.content and b"Between 60 seconds" in response.content
    assert AgentGroup.objects.filter(name="Servers").count() == 1


def test_read_only_users_cannot_write_policies(reader_client):
    group = AgentGroup.objects.create(name="Servers")
    assert (
        reader_client.post(
            "/agents/policies/new/",
            {"name": "X", "interval_seconds": "60", "stale_after_missed": "1"},
        ).status_code
        == 403
    )
    assert (
        reader_client.post(f"/agents/policies/{group.pk}/edit/", {"name": "Y"}).status_code == 403
    )
    assert list(AgentGroup.objects.values_list("name", flat=True)) == ["Servers"]
    assert b"/edit/" not in reader_client.get("/agents/policies/").content


# --- audit: discrepancies -----------------------------------------------------------------


def test_discrepancies_list_open_ones_by_default_with_counts_per_kind(manager_client):
    ci_type = server_type()
    ci = CIFactory(ci_type=ci_type, name="db-01", attributes={"os": "x"})
    open_discrepancy(ci, message="firefox appeared", key="firefox")
    open_discrepancy(ci, kind=DiscrepancyKind.STALE, message="silent for days")
    closed = open_discrepancy(ci, kind=DiscrepancyKind.HARDWARE_CHANGED, message="ram changed")
    closed.status = DiscrepancyStatus.RESOLVED
    closed.save()

    page = manager_client.get("/agents/discrepancies/").content.decode()
    assert "firefox appeared" in page and "silent for days" in page and "ram changed" not in page
    assert 'data-kind="unapproved_software"' in page
    assert re.search(r'data-kind="stale".*?data-count="1"', page, re.S)
    assert "/close/" in page

    everything = manager_client.get("/agents/discrepancies/?status=").content.decode()
    assert "ram changed" in everything
    by_kind = manager_client.get("/agents/discrepancies/?kind=stale").content.decode()
    assert "silent for days" in by_kind and "firefox appeared" not in by_kind
    searched = manager_client.get("/agents/discrepancies/?q=firefox").content.decode()
    assert "firefox appeared" in searched and "silent for days" not in searched
    other_type = manager_client.get("/agents/discrepancies/?ci_type=laptop").content.decode()
    assert "firefox appeared" not in other_type
    partial = manager_client.get("/agents/discrepancies/?kind=stale", HTTP_HX_REQUEST="true")
    assert b"<html" not in partial.content and b"silent for days" in partial.content


def test_resolve_and_accept_through_the_page(manager_client, cmdb_manager):
    ci = CIFactory(ci_type=server_type(), attributes={"os": "x"})
    fixed = open_discrepancy(ci, key="a")
    expected = open_discrepancy(ci, key="b")
    response = manager_client.post(
        f"/agents/discrepancies/{fixed.pk}/close/",
        {
            "status": "resolved",
            "resolution": "uninstalled",
            "next": "/agents/discrepancies/?kind=unapproved_software",
        },
    )
    assert response["Location"] == "/agents/discrepancies/?kind=unapproved_software"
    manager_client.post(f"/agents/discrepancies/{expected.pk}/close/", {"status": "accepted"})
    fixed.refresh_from_db()
    expected.refresh_from_db()
    assert (fixed.status, fixed.resolution, fixed.resolved_by) == (
        "resolved",
        "uninstalled",
        cmdb_manager,
    )
    assert (expected.status, expected.resolution) == ("accepted", "")

    again = manager_client.post(
        f"/agents/discrepancies/{fixed.pk}/close/", {"status": "accepted"}, follow=True
    )
    assert b"already resolved" in again.content
    bad = manager_client.post(
        f"/agents/discrepancies/{expected.pk}/close/", {"status": "open"}, follow=True
    )
    assert b"Choose to resolve or to accept" in bad.content
    fixed.refresh_from_db()
    assert fixed.status == "resolved"


def test_read_only_users_see_no_resolve_buttons_and_are_refused(reader_client):
    ci = CIFactory(ci_type=server_type(), attributes={"os": "x"})
    item = open_discrepancy(ci, message="firefox appeared")
    page = reader_client.get("/agents/discrepancies/").content.decode()
    assert "firefox appeared" in page and "/close/" not in page
    assert 'value="resolved" title' not in page and ">Accept</button>" not in page
    response = reader_client.post(f"/agents/discrepancies/{item.pk}/close/", {"status": "resolved"})
    assert response.status_code == 403
    item.refresh_from_db()
    assert item.status == DiscrepancyStatus.OPEN


def test_discrepancy_list_has_a_fixed_number_of_queries(manager_client, cmdb_manager):
    ci_type = server_type()
    cis = [CIFactory(ci_type=ci_type, attributes={"os": "x"}) for _ in range(2)]
    open_discrepancy(cis[0], key="x")
    url_filtered = "/agents/discrepancies/?status=&ci_type=test-server&q=ci"
    few = count_queries(manager_client, "/agents/discrepancies/")
    few_filtered = count_queries(manager_client, url_filtered)
    kinds = list(DiscrepancyKind.values)
    for i in range(40):
        ci = CIFactory(ci_type=ci_type, attributes={"os": "x"})
        item = open_discrepancy(ci, kind=kinds[i % len(kinds)], key=f"k{i}")
        if i % 3 == 0:
            item.status, item.resolved_by, item.resolved_at = (
                "resolved",
                cmdb_manager,
                timezone.now(),
            )
            item.save()
    assert count_queries(manager_client, "/agents/discrepancies/") == few
    assert count_queries(manager_client, url_filtered) == few_filtered


# --- security log -------------------------------------------------------------------------


def test_security_log_filters_by_reason(manager_client):
    agent = make_agent().agent
    rejection_record(
        reason=RejectionReason.REPLAY,
        status_code=401,
        path="/api/v1/agents/reports/",
        remote_addr="10.0.0.1",
        key_id=agent.key_id,
    )
    rejection_record(
        reason=RejectionReason.UNKNOWN_KEY,
        status_code=401,
        path="/api/v1/agents/policy/",
        remote_addr="10.0.0.2",
        key_id="agt_nobody",
    )
    assert SecurityEvent.objects.count() == 2
    page = manager_client.get("/agents/security-log/").content.decode()
    assert "Nonce already used" in page and "Unknown key" in page
    assert f'href="/agents/{agent.pk}/">{agent.key_id}</a>' in page
    replay = manager_client.get("/agents/security-log/?reason=replay").content.decode()
    assert "agt_nobody" not in replay and agent.key_id in replay


# --- CI page: discovery card and field ownership ------------------------------------------


def test_ci_detail_shows_the_discovery_card_and_who_owns_each_field(manager_client):
    agent, ci = reported_ci()
    open_discrepancy(ci, message="telnet is installed")
    page = manager_client.get(ci.get_absolute_url()).content.decode()
    assert 'id="discovery-card"' in page
    assert f"/agents/{agent.pk}/" in page and "itsm-inventory/1" in page
    assert "52:54:00:12:34:56" in page and "10.0.0.5" in page  # interface
    assert "/dev/sda1" in page and "42.0 %" in page and "w-pct-40" in page  # volume bar
    assert "failed_login" in page and "root from 203.0.113.9" in page  # event
    assert "telnet is installed" in page
    assert 'style="' not in page
    # Ownership: hostname and attributes.os by agents, asset tag and owner by people.
    assert re.search(r"<th class=\"text-nowrap\">Hostname <span[^>]*data-owner=\"agent\"", page)
    assert re.search(r"<th class=\"text-nowrap\">Asset tag <span[^>]*data-owner=\"people\"", page)
    assert re.search(r"<th class=\"text-nowrap\">Owner <span[^>]*data-owner=\"people\"", page)
    assert re.search(r'<th class="w-25 text-nowrap">os <span[^>]*data-owner="agent"', page)


def test_ci_detail_without_discovery_data(manager_client):
    ci = CIFactory(ci_type=server_type(), attributes={"os": "x", "environment": "prod"})
    page = manager_client.get(ci.get_absolute_url()).content.decode()
    assert "No agent has reported this CI yet." in page
    assert re.search(
        r'<th class="w-25 text-nowrap">environment <span[^>]*data-owner="people"', page
    )


def test_ci_detail_discovery_card_has_a_fixed_number_of_queries(manager_client):
    _agent, ci = reported_ci()
    base = count_queries(manager_client, ci.get_absolute_url())
    for i in range(15):
        NetworkInterface.objects.create(
            ci=ci, name=f"eth{i + 1}", mac=f"52:54:00:00:00:{i:02x}", ipv4=[f"10.1.0.{i}"]
        )
        StorageVolume.objects.create(ci=ci, mount=f"/srv/{i}", size_mb=1000, used_mb=10 * i)
        CIEvent.objects.create(
            ci=ci, at=timezone.now(), kind="disk_full", severity="warning", fingerprint=f"f{i}"
        )
        open_discrepancy(ci, key=f"pkg{i}")
    Agent.objects.filter(pk=make_agent(name="second").agent.pk).update(ci=ci)
    submit(
        make_agent(name="third"),
        native_report(
            hostname="other.example.org",
            uuid="11111111-2222-3333-4444-555555555555",
            serial="X-2",
            mac="52:54:00:99:99:99",
        ),
    )
    assert count_queries(manager_client, ci.get_absolute_url()) == base


def test_ci_detail_hides_the_discovery_card_from_users_who_may_not_see_agents(client, make_user):
    from django.contrib.auth.models import Permission

    user = make_user(None)
    user.user_permissions.add(Permission.objects.get(codename="view_configurationitem"))
    client.force_login(user)
    _agent, ci = reported_ci()
    page = client.get(ci.get_absolute_url()).content.decode()
    assert 'id="discovery-card"' not in page and 'data-owner="agent"' in page


# --- CMDB health --------------------------------------------------------------------------


def test_health_page_shows_a_row_per_ci_type(manager_client):
    _agent, server = reported_ci()
    laptop_type = server_type()
    laptop = CIFactory(ci_type=laptop_type, attributes={"os": "x"})
    open_discrepancy(laptop)
    page = manager_client.get("/agents/health/").content.decode()
    assert f'data-ci-type="{server.ci_type.slug}"' in page and 'data-ci-type="test-server"' in page
    assert f"/cmdb/cis/?ci_type={server.ci_type.slug}" in page
    assert "/agents/discrepancies/?ci_type=test-server" in page
    assert re.search(
        r'data-ci-type="test-server".*?progress-bar w-pct-0 bg-danger.*?</tr>', page, re.S
    )
    assert "1 open" in page
    assert 'style="' not in page
