"""CI pages as a new user meets them (issue 6): the list's filter form, lifecycle reasons and
labels, pages that fit the CI's class, panels from other apps, error pages, wording."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.staticfiles import finders
from django.test import RequestFactory

from cmdb import services
from cmdb.history import ChangeContext
from cmdb.models import CIType, ConfigurationItem
from itsm import roles
from itsm.exceptions import ApplicationError
from itsm.registry import Panel, dashboard_cards, panels
from tests.factories import SYSTEM, CIFactory, CITypeFactory, link, server_type
from tests.query_counts import assert_pinned, measure

pytestmark = pytest.mark.django_db

EMPTY_FORM = "q=&ci_type=&status=&software=&software_version=&ordering=name"


@pytest.fixture
def manager_client(client, cmdb_manager):
    client.force_login(cmdb_manager)
    return client


@pytest.fixture
def fleet():
    """Two servers (one running openssl 3.0.2, one in production) and a database."""
    server = server_type()
    web = CIFactory(name="web-01", ci_type=server, attributes={"os": "Debian"})
    services.software_replace(
        context=SYSTEM, ci=web, items=[{"name": "OpenSSL", "version": "3.0.2"}]
    )
    app = CIFactory(name="app-01", ci_type=server, attributes={"os": "Debian"})
    for status in ("received", "under_test", "production"):
        services.ci_transition(context=SYSTEM, ci_id=app.pk, to_status=status)
    db_type = CITypeFactory(name="Test database", slug="test-db")
    db = CIFactory(name="db-01", ci_type=db_type)
    return {"web": web, "app": app, "db": db}


def listed(response) -> set[str]:
    return {ci.name for ci in response.context["page"].object_list}


# --- the CI list's filter form (item 2) --------------------------------------------------


def test_empty_filter_values_mean_no_filter(manager_client, fleet):
    response = manager_client.get(f"/cmdb/cis/?{EMPTY_FORM}")
    assert response.status_code == 200
    assert b"Some filters are invalid" not in response.content
    assert listed(response) == {"web-01", "app-01", "db-01"}
    assert b"3 configuration items" in response.content


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ci_type=test-server", {"web-01", "app-01"}),
        ("status=production", {"app-01"}),
        ("q=web", {"web-01"}),
        ("software=openssl", {"web-01"}),
        ("software=openssl&software_version=3.0.2", {"web-01"}),
        ("ci_type=test-server&status=ordered&q=01&software=OpenSSL", {"web-01"}),
    ],
)
def test_each_filter_of_the_form_filters(manager_client, fleet, query, expected):
    # The form always sends every field: the empty ones must not spoil the others.
    full = "&".join(
        [query]
        + [
            f"{name}="
            for name in ("q", "ci_type", "status", "software", "software_version")
            if f"{name}=" not in query
        ]
    )
    response = manager_client.get(f"/cmdb/cis/?{full}")
    assert response.status_code == 200
    assert b"Some filters are invalid" not in response.content
    assert listed(response) == expected


def test_one_item_is_not_plural(manager_client, fleet):
    response = manager_client.get("/cmdb/cis/?q=db-01")
    assert b"1 configuration item<" in response.content
    assert b"1 configuration items" not in response.content


def test_an_invalid_filter_is_named_and_lists_nothing(manager_client, fleet):
    response = manager_client.get("/cmdb/cis/?status=broken&ci_type=")
    assert b"Some filters are invalid" in response.content
    assert b"Status" in response.content and b"broken" in response.content
    assert listed(response) == set()


def test_export_of_the_filtered_list(manager_client, fleet):
    page = manager_client.get("/cmdb/cis/?q=&ci_type=test-server&status=&software=openssl")
    assert b'id="export-csv"' in page.content
    link_ = page.content.split(b'id="export-csv" href="')[1].split(b'"')[0].decode()
    response = manager_client.get(link_.replace("&amp;", "&"))
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["name"] for row in rows] == ["web-01"]
    everything = manager_client.get(f"/cmdb/export/cis.csv?{EMPTY_FORM}")
    assert everything.status_code == 200
    assert (
        len(list(csv.DictReader(io.StringIO(b"".join(everything.streaming_content).decode())))) == 3
    )


def test_api_accepts_empty_filter_values_and_still_refuses_unknown_ones(manager_api, fleet):
    response = manager_api.get("/api/v1/cmdb/cis/?ci_type=&status=&q=&software=")
    assert response.status_code == 200 and response.json()["count"] == 3
    response = manager_api.get("/api/v1/cmdb/cis/?ci_type=test-server&status=")
    assert response.json()["count"] == 2
    assert manager_api.get("/api/v1/cmdb/cis/?stauts=").status_code == 400
    assert manager_api.get("/api/v1/cmdb/cis/?status=broken").status_code == 400


# --- lifecycle: reasons and labels (item 5) ------------------------------------------------


def test_the_move_form_has_a_visible_reason_field(manager_client, fleet):
    page = manager_client.get(fleet["web"].get_absolute_url()).content.decode()
    form = page.split('id="transition-form"')[1].split("</form>")[0]
    assert 'type="text" name="reason"' in form and 'type="hidden" name="reason"' not in form
    assert 'data-move="disposed"' in form and "Move to received (pending testing)" in form


def test_disposal_needs_a_reason_in_the_service():
    ci = CIFactory(ci_type=server_type(), attributes={"os": "x"})
    with pytest.raises(ApplicationError) as refused:
        services.ci_transition(context=SYSTEM, ci_id=ci.pk, to_status="disposed")
    assert "reason" in refused.value.extra
    ci.refresh_from_db()
    assert ci.status == "ordered" and not ci.status_changes.exists()
    context = ChangeContext(source="system", reason="  ")
    with pytest.raises(ApplicationError):
        services.ci_transition(context=context, ci_id=ci.pk, to_status="disposed")
    context = ChangeContext(source="system", reason="order cancelled")
    assert services.ci_transition(context=context, ci_id=ci.pk, to_status="disposed").status == (
        "disposed"
    )


def test_disposal_needs_a_reason_on_the_page(manager_client, fleet):
    ci = fleet["web"]
    url = f"/cmdb/cis/{ci.pk}/transition/"
    refused = manager_client.post(url, {"status": "disposed", "reason": ""}, follow=True)
    assert b"Give a reason to dispose of a CI" in refused.content
    ci.refresh_from_db()
    assert ci.status == "ordered"
    manager_client.post(url, {"status": "disposed", "reason": "never delivered"})
    ci.refresh_from_db()
    assert ci.status == "disposed"
    assert ci.status_changes.get().reason == "never delivered"


def test_disposal_needs_a_reason_in_the_api(manager_api, fleet):
    ci = fleet["web"]
    url = f"/api/v1/cmdb/cis/{ci.pk}/transition/"
    refused = manager_api.post(url, {"status": "disposed"}, format="json")
    assert refused.status_code == 400 and "reason" in refused.json()
    assert ConfigurationItem.objects.get(pk=ci.pk).status == "ordered"
    ok = manager_api.post(url, {"status": "disposed", "reason": "stolen"}, format="json")
    assert ok.status_code == 200 and ok.json()["status"] == "disposed"


def test_a_refused_move_speaks_in_labels(manager_api, fleet):
    app = fleet["app"]  # in production
    refused = manager_api.post(
        f"/api/v1/cmdb/cis/{app.pk}/transition/", {"status": "received"}, format="json"
    )
    assert refused.status_code == 400
    detail = refused.json()["detail"]
    assert "from Production to Received (pending testing)" in detail
    assert "Under repair" in detail and "under_repair" not in detail
    assert refused.json()["allowed"] == ["disposed", "under_repair"]  # codes stay for scripts


# --- the CI page fits the class (item 8) ---------------------------------------------------


def test_agent_classes_show_software_and_discovery(manager_client, fleet):
    page = manager_client.get(fleet["web"].get_absolute_url()).content.decode()
    assert 'id="software-card"' in page and "OpenSSL" in page
    assert 'id="discovery-card"' in page
    # No agent has reported: nothing claims the CMDB and the machine agree.
    assert "the CMDB and the machine agree" not in page
    assert "no agent has reported this CI" in page


def test_other_classes_show_neither_software_nor_discovery(manager_client, fleet):
    page = manager_client.get(fleet["db"].get_absolute_url()).content.decode()
    assert 'id="software-card"' not in page and 'id="discovery-card"' not in page
    assert 'id="discovery-card"' not in page
    assert '<option value="downstream" selected>' in page


def test_builtin_classes_have_their_flags():
    capable = set(CIType.objects.filter(agent_capable=True).values_list("slug", flat=True))
    assert {"server", "virtual-machine", "desktop", "laptop"} <= capable
    assert not {"application", "business-service", "database"} & capable
    upstream = set(
        CIType.objects.filter(impact_direction="upstream").values_list("slug", flat=True)
    )
    assert upstream == {"application", "business-service"}


def test_business_services_open_the_impact_view_upstream(manager_client):
    service = CIFactory(
        ci_type=CIType.objects.get(slug="business-service"), attributes={"criticality": "high"}
    )
    page = manager_client.get(service.get_absolute_url()).content.decode()
    assert '<option value="upstream" selected>' in page
    assert '<option value="downstream" selected>' not in page


# --- panels and cards from other apps (Part 2 item 3) -------------------------------------


def test_ci_page_renders_registered_panels_in_order(manager_client, fleet, settings):
    def late(*, request, obj, context):
        return Panel("test/panel.html", {"panel_text": f"late panel of {obj.name}"})

    def early(*, request, obj, context):
        return Panel("test/panel.html", {"panel_text": "early panel"})

    def hidden(*, request, obj, context):
        return None

    settings.TEMPLATES = [
        {
            **settings.TEMPLATES[0],
            "APP_DIRS": False,
            "OPTIONS": {
                **settings.TEMPLATES[0]["OPTIONS"],
                "loaders": [
                    (
                        "django.template.loaders.locmem.Loader",
                        {"test/panel.html": "<p>{{ panel_text }} for {{ user.username }}</p>"},
                    ),
                    "django.template.loaders.filesystem.Loader",
                    "django.template.loaders.app_directories.Loader",
                ],
            },
        }
    ]
    for func, order in ((late, 500), (early, 1), (hidden, 2)):
        panels.register("cmdb.ci_detail", func, order=order)
    try:
        page = manager_client.get(fleet["web"].get_absolute_url()).content.decode()
    finally:
        for func in (late, early, hidden):
            panels.unregister("cmdb.ci_detail", func)
    user = page.split('class="navbar-text user-name">')[1].split("<")[0]
    assert f"late panel of web-01 for {user}" in page and "early panel for" in page
    assert page.index("early panel") < page.index('id="discovery-card"') < page.index("late panel")


def test_dashboard_cards_come_from_the_registry(manager_client, client, make_user, fleet):
    assert dashboard_cards.extensions("home"), "cmdb registers its card in ready()"
    page = manager_client.get("/").content.decode()
    assert 'id="dashboard-ci-types"' in page and "?ci_type=test-server" in page
    client.force_login(make_user(None))
    assert 'id="dashboard-ci-types"' not in client.get("/").content.decode()


# --- error pages, favicon, small screens (item 6) -----------------------------------------


def test_403_names_the_role_that_would_be_needed(client, make_user):
    client.force_login(make_user(roles.READ_ONLY))
    response = client.get("/cmdb/cis/new/")
    assert response.status_code == 403
    html = response.content.decode()
    assert "CMDB Manager" in html and "cmdb.add_configurationitem" in html
    assert "Your roles: Read Only" in html
    assert ">CIs</a>" in html and 'id="main-nav"' in html  # the navigation


def test_403_of_a_permission_every_reader_has(client, make_user):
    client.force_login(make_user(None))
    html = client.get("/cmdb/cis/").content.decode()
    assert "Read Only" in html and "CMDB Manager" in html


def test_404_page_has_the_navigation(manager_client):
    response = manager_client.get("/cmdb/cis/987654/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "Page not found" in html and ">CIs</a>" in html and 'id="main-nav"' in html
    response = manager_client.get("/no/such/page/")
    assert response.status_code == 404 and "/no/such/page/" in response.content.decode()


def test_unknown_api_paths_answer_json(manager_api):
    response = manager_api.get("/api/v1/no-such-resource/")
    assert response.status_code == 404 and response.json() == {"detail": "Not found."}


def test_500_page_renders_without_a_request_context():
    from itsm.views import server_error

    response = server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong" in html
    assert 'href="/cmdb/cis/"' in html and "favicon.svg" in html
    api = server_error(RequestFactory().get("/api/v1/cmdb/cis/"))
    assert api.status_code == 500 and api["Content-Type"] == "application/json"


def test_favicon_is_linked_and_served(manager_client):
    page = manager_client.get("/").content.decode()
    assert 'rel="icon" href="/static/favicon.svg"' in page
    assert 'rel="icon" href="/static/favicon.ico"' in page
    assert finders.find("favicon.svg") and finders.find("favicon.ico")
    redirect = manager_client.get("/favicon.ico")
    assert redirect.status_code == 301 and redirect["Location"] == "/static/favicon.ico"
    manager_client.logout()
    assert manager_client.get("/favicon.ico").status_code == 301  # no login needed


def test_tables_scroll_in_their_box_and_the_menu_collapses(manager_client, fleet):
    page = manager_client.get("/cmdb/cis/").content.decode()
    assert '<div class="table-responsive">' in page
    assert 'data-nav-toggle="main-nav"' in page and 'class="collapse navbar-collapse"' in page


# --- wording (item 11) ----------------------------------------------------------------------


def test_navigation_says_discrepancies_not_audit(manager_client):
    html = manager_client.get("/").content.decode()
    assert ">Discrepancies</a>" in html and ">Audit</a>" not in html


def test_impact_counts_are_pluralised(manager_client, fleet):
    link(fleet["web"], fleet["app"])
    html = manager_client.get(
        f"/cmdb/cis/{fleet['web'].pk}/impact/?direction=downstream&depth=1"
    ).content.decode()
    assert "1 CI downstream within 1 hop." in html


# --- query counts of the CI page, pinned ----------------------------------------------------


def _populate(ci, others, make_user, n):
    for other in others[:n]:
        if not ci.outgoing.filter(target=other).exists():
            link(ci, other)
    services.software_replace(
        context=SYSTEM, ci=ci, items=[{"name": f"pkg{i}", "version": "1"} for i in range(n * 5)]
    )
    services.ci_set_roles(
        context=SYSTEM, ci_id=ci.pk, roles=[(make_user(None), "systems_manager") for _ in range(n)]
    )


@pytest.mark.parametrize("agent_capable", [True, False])
def test_ci_page_query_count_is_pinned(manager_client, make_user, agent_capable):
    """Agent classes: + software (count, page) and the agents panel (report, events,
    discrepancies, agents, interfaces, volumes). Pinned in tests/query_counts.json, and the
    same whatever the number of relationships, packages and roles."""
    ci_type = CITypeFactory(name="Pinned", slug="pinned", agent_capable=agent_capable)
    ci, *others = [CIFactory(ci_type=ci_type) for _ in range(6)]
    url = ci.get_absolute_url()
    _populate(ci, others, make_user, 1)
    few = measure(manager_client, url)
    assert_pinned(f"page.ci_detail.{'agent_class' if agent_capable else 'other_class'}", few)
    _populate(ci, others, make_user, 5)
    assert measure(manager_client, url) == few


def test_nested_attributes_and_identifiers_read_as_text(manager_client):
    """No Python dicts or raw field names on the CI page: nested values as `key: value`,
    booleans as yes/no, field labels from the registry (UUID, not Uuid)."""
    ci = CIFactory(
        ci_type=server_type(),
        uuid="627d894f-5fbb-5e94-a50e-4c61888c680e",
        attributes={"os": "Debian", "security": {"firewall_enabled": True}},
    )
    page = manager_client.get(ci.get_absolute_url()).content.decode()
    assert "firewall_enabled: yes" in page
    assert "{&#x27;firewall_enabled&#x27;" not in page and "{'firewall_enabled'" not in page
    assert "UUID" in page and "Uuid" not in page
