"""Web UI of the CMDB: list, detail, forms with visible errors, lifecycle buttons, query counts."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cmdb import services
from cmdb.models import ConfigurationItem
from itsm import roles
from tests.factories import SYSTEM, CIFactory, link, server_type

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager_client(client, cmdb_manager):
    client.force_login(cmdb_manager)
    return client


def make_cis(n, **kwargs):
    ci_type = server_type()
    return [CIFactory(ci_type=ci_type, attributes={"os": "Debian"}, **kwargs) for _ in range(n)]


def count_queries(client, url):
    client.get(url)  # warm what is cached across requests (permissions with a shared cache)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_ci_list_has_a_fixed_number_of_queries(manager_client, make_user):
    owner = make_user(None)
    make_cis(3, owner=owner)
    filtered = "/cmdb/cis/?ci_type=test-server&status=ordered&q=ci"
    few = count_queries(manager_client, "/cmdb/cis/")
    few_filtered = count_queries(manager_client, filtered)
    make_cis(40, owner=owner)
    assert count_queries(manager_client, "/cmdb/cis/") == few
    assert count_queries(manager_client, filtered) == few_filtered


def test_ci_api_list_has_a_fixed_number_of_queries(manager_api):
    make_cis(3)
    manager_api.get("/api/v1/cmdb/cis/")  # warm the permission cache
    with CaptureQueriesContext(connection) as few:
        manager_api.get("/api/v1/cmdb/cis/")
    make_cis(30)
    with CaptureQueriesContext(connection) as many:
        manager_api.get("/api/v1/cmdb/cis/")
    assert len(many.captured_queries) == len(few.captured_queries)


def test_ci_detail_has_a_fixed_number_of_queries(manager_client, make_user):
    ci, *others = make_cis(12)
    link(ci, others[0])
    services.software_replace(context=SYSTEM, ci=ci, items=[{"name": "a", "version": "1"}])
    services.ci_set_roles(context=SYSTEM, ci_id=ci.pk, roles=[(make_user(None), "systems_manager")])
    base = count_queries(manager_client, f"/cmdb/cis/{ci.pk}/")
    for other in others[1:]:
        link(ci, other)
    services.software_replace(
        context=SYSTEM, ci=ci, items=[{"name": f"pkg{i}", "version": "1"} for i in range(30)]
    )
    services.ci_set_roles(
        context=SYSTEM, ci_id=ci.pk, roles=[(make_user(None), "systems_manager") for _ in range(5)]
    )
    assert count_queries(manager_client, f"/cmdb/cis/{ci.pk}/") == base


def test_list_search_filters_and_htmx_partial(manager_client):
    make_cis(2)
    CIFactory(name="special-db", ci_type=server_type(), attributes={"os": "x"})
    page = manager_client.get("/cmdb/cis/?q=special")
    assert b"special-db" in page.content and b"ci-00" not in page.content
    partial = manager_client.get("/cmdb/cis/?q=special", HTTP_HX_REQUEST="true")
    assert b"<html" not in partial.content and b"special-db" in partial.content


def test_create_form_shows_errors_and_writes_nothing(manager_client):
    server_type()
    from cmdb.models import CIType

    type_id = CIType.objects.get(slug="test-server").pk
    response = manager_client.post(
        "/cmdb/cis/new/", {"name": "bad", "ci_type": type_id, "attributes": '{"cpu_cores": 0}'}
    )
    assert response.status_code == 400
    assert b"is a required property" in response.content
    response = manager_client.post(
        "/cmdb/cis/new/", {"name": "bad", "ci_type": type_id, "attributes": "{not json"}
    )
    assert response.status_code == 400 and b"Enter a valid JSON" in response.content
    assert ConfigurationItem.objects.count() == 0
    ok = manager_client.post(
        "/cmdb/cis/new/",
        {"name": "good", "ci_type": type_id, "attributes": '{"os": "Debian"}', "managed": "on"},
    )
    assert ok.status_code == 302
    assert ConfigurationItem.objects.get().name == "good"


def test_edit_form_refuses_a_stale_version(manager_client):
    ci = make_cis(1)[0]
    services.ci_update(
        context=SYSTEM, ci_id=ci.pk, data={"description": "changed meanwhile"}, expected_version=1
    )
    response = manager_client.post(
        f"/cmdb/cis/{ci.pk}/edit/",
        {
            "name": ci.name,
            "ci_type": ci.ci_type_id,
            "attributes": '{"os": "Debian"}',
            "version": 1,
            "description": "mine",
        },
    )
    assert response.status_code == 400
    assert b"changed by someone else" in response.content
    ci.refresh_from_db()
    assert ci.description == "changed meanwhile"


def test_detail_offers_only_allowed_moves(manager_client):
    ci = make_cis(1)[0]
    page = manager_client.get(f"/cmdb/cis/{ci.pk}/").content.decode()
    assert 'data-move="received"' in page and 'data-move="disposed"' in page
    assert 'data-move="production"' not in page
    response = manager_client.post(
        f"/cmdb/cis/{ci.pk}/transition/", {"status": "production"}, follow=True
    )
    # Labels, not codes, in the refusal.
    assert b"cannot move from Ordered to Production" in response.content
    assert b"Allowed from Ordered: Received (pending testing), Disposed" in response.content
    assert b"under_test" not in response.content.split(b"</nav>")[1].split(b"<form")[0]
    ci.refresh_from_db()
    assert ci.status == "ordered"
    moved = manager_client.post(
        f"/cmdb/cis/{ci.pk}/transition/", {"status": "received", "reason": "delivered"}, follow=True
    )
    assert f"{ci.name} moved to Received (pending testing).".encode() in moved.content
    ci.refresh_from_db()
    assert ci.status == "received"
    assert ci.status_changes.get().reason == "delivered"


def test_read_only_user_sees_no_write_buttons(client, make_user):
    ci = make_cis(1)[0]
    client.force_login(make_user(roles.READ_ONLY))
    page = client.get(f"/cmdb/cis/{ci.pk}/").content.decode()
    assert "data-move=" not in page and "Edit</a>" not in page


def test_impact_partial_renders_the_tree(manager_client):
    a, b, c = make_cis(3)
    link(a, b)
    link(b, c)
    link(c, a)
    response = manager_client.get(f"/cmdb/cis/{a.pk}/impact/?direction=downstream&depth=5")
    html = response.content.decode()
    assert response.status_code == 200
    assert b.name in html and c.name in html
    bad = manager_client.get(f"/cmdb/cis/{a.pk}/impact/?depth=99")
    assert bad.status_code == 400


def test_relationship_and_roles_from_the_detail_page(manager_client, make_user):
    a, b = make_cis(2)
    from cmdb.models import RelationshipType

    rel_type = RelationshipType.objects.get(slug="hosts")
    manager_client.post(
        f"/cmdb/cis/{a.pk}/relationships/add/",
        {"direction": "outgoing", "type": rel_type.pk, "other": b.name},
    )
    assert a.outgoing.filter(target=b).exists()
    dup = manager_client.post(
        f"/cmdb/cis/{a.pk}/relationships/add/",
        {"direction": "outgoing", "type": rel_type.pk, "other": b.name},
        follow=True,
    )
    assert b"already exists" in dup.content
    person = make_user(None)
    manager_client.post(
        f"/cmdb/cis/{a.pk}/roles/add/", {"user": person.username, "role": "systems_manager"}
    )
    assert a.roles.filter(user=person, role="systems_manager").exists()
