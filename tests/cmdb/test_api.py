"""CMDB REST API: contract fields, filters, bulk create, 409 on stale versions, bad input."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from cmdb.models import ConfigurationItem, HistoryEntry, Relationship
from tests.factories import CIFactory, RelationshipTypeFactory, link, server_type

pytestmark = pytest.mark.django_db

CIS = "/api/v1/cmdb/cis/"


def server_payload(**overrides):
    server_type()
    data = {"name": "web-01", "ci_type": "test-server", "attributes": {"os": "Debian 12"}}
    data.update(overrides)
    return data


def test_create_and_read_ci_with_contract_fields(manager_api):
    response = manager_api.post(
        CIS, server_payload(serial_number="SN1", hostname="WEB-01"), format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    for key in [
        "id",
        "name",
        "ci_type",
        "status",
        "managed",
        "owner",
        "serial_number",
        "asset_tag",
        "hostname",
        "attributes",
        "version",
        "created",
        "updated",
    ]:
        assert key in body
    assert body["status"] == "ordered" and body["version"] == 1 and body["hostname"] == "web-01"
    detail = manager_api.get(f"{CIS}{body['id']}/").json()
    assert detail["ci_type"] == "test-server"
    entry = HistoryEntry.objects.get(ci_id=body["id"])
    assert entry.source == "api" and entry.actor_name == manager_api.user.username


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"attributes": {"cpu_cores": 2}}, "attributes"),
        ({"attributes": "not an object"}, "attributes"),
        ({"ci_type": "no-such-type"}, "ci_type"),
        ({"status": "retired"}, "status"),
        ({"name": ""}, "name"),
    ],
)
def test_invalid_input_is_400_and_writes_nothing(manager_api, payload, field):
    response = manager_api.post(CIS, server_payload(**payload), format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert ConfigurationItem.objects.count() == 0


def test_duplicate_identifier_is_400(manager_api):
    assert (
        manager_api.post(CIS, server_payload(serial_number="X1"), format="json").status_code == 201
    )
    response = manager_api.post(
        CIS, server_payload(name="other", serial_number="X1"), format="json"
    )
    assert response.status_code == 400
    assert "serial_number" in response.json()
    assert ConfigurationItem.objects.count() == 1


def test_malformed_json_is_400(manager_api):
    response = manager_api.generic("POST", CIS, data='{"name": ', content_type="application/json")
    assert response.status_code == 400
    assert ConfigurationItem.objects.count() == 0


def test_wrong_content_type_is_415(manager_api):
    response = manager_api.generic("POST", CIS, data="name=x", content_type="text/plain")
    assert response.status_code == 415


def test_bulk_create_and_errors_per_item(manager_api):
    items = [server_payload(name=f"bulk-{i}", serial_number=f"B{i}") for i in range(5)]
    response = manager_api.post(CIS, items, format="json")
    assert response.status_code == 201
    assert len(response.json()) == 5
    bad = [
        server_payload(name="ok", serial_number="C1"),
        server_payload(name="dup", serial_number="B1"),
    ]
    response = manager_api.post(CIS, bad, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["index"] == 1
    assert ConfigurationItem.objects.count() == 5
    invalid = [server_payload(name="x"), server_payload(name="y", attributes={"cpu_cores": "many"})]
    response = manager_api.post(CIS, invalid, format="json")
    assert response.status_code == 400
    assert ConfigurationItem.objects.count() == 5


def test_patch_needs_current_version_and_answers_409_when_stale(manager_api):
    ci_id = manager_api.post(CIS, server_payload(), format="json").json()["id"]
    assert (
        manager_api.patch(f"{CIS}{ci_id}/", {"description": "x"}, format="json").status_code == 400
    )
    ok = manager_api.patch(f"{CIS}{ci_id}/", {"description": "first", "version": 1}, format="json")
    assert ok.status_code == 200 and ok.json()["version"] == 2
    stale = manager_api.patch(
        f"{CIS}{ci_id}/", {"description": "second", "version": 1}, format="json"
    )
    assert stale.status_code == 409
    assert stale.json()["current_version"] == 2
    assert ConfigurationItem.objects.get(pk=ci_id).description == "first"


def test_status_cannot_be_patched(manager_api):
    ci_id = manager_api.post(CIS, server_payload(), format="json").json()["id"]
    response = manager_api.patch(
        f"{CIS}{ci_id}/", {"status": "production", "version": 1}, format="json"
    )
    assert response.status_code == 400
    assert ConfigurationItem.objects.get(pk=ci_id).status == "ordered"


def test_transition_action(manager_api):
    ci_id = manager_api.post(CIS, server_payload(), format="json").json()["id"]
    url = f"{CIS}{ci_id}/transition/"
    refused = manager_api.post(url, {"status": "production", "reason": "skip"}, format="json")
    assert refused.status_code == 400
    assert "allowed" in refused.json() and refused.json()["allowed"] == ["disposed", "received"]
    ok = manager_api.post(url, {"status": "received", "reason": "arrived"}, format="json")
    assert ok.status_code == 200 and ok.json()["status"] == "received"
    history = manager_api.get(f"{CIS}{ci_id}/history/").json()
    assert history["results"][0]["changes"] == {"status": {"old": "ordered", "new": "received"}}
    assert history["results"][0]["reason"] == "arrived"
    assert {"at", "actor", "source", "changes", "reason"} <= set(history["results"][0])


def test_filters_and_unknown_filters(manager_api):
    a = CIFactory(
        name="alpha", ci_type=server_type(), attributes={"os": "x"}, hostname="alpha.local"
    )
    CIFactory(name="beta", ci_type=server_type(), attributes={"os": "x"})
    from cmdb import services
    from tests.factories import SYSTEM

    services.software_replace(context=SYSTEM, ci=a, items=[{"name": "OpenSSL", "version": "3.0.2"}])
    names = lambda r: [c["name"] for c in r.json()["results"]]  # noqa: E731
    assert names(manager_api.get(CIS, {"software": "openssl"})) == ["alpha"]
    assert names(manager_api.get(CIS, {"software": "openssl", "software_version": "3.0.2"})) == [
        "alpha"
    ]
    assert names(manager_api.get(CIS, {"software": "openssl", "software_version": "1.1"})) == []
    assert names(manager_api.get(CIS, {"hostname": "ALPHA.local"})) == ["alpha"]
    assert names(manager_api.get(CIS, {"q": "bet"})) == ["beta"]
    assert names(manager_api.get(CIS, {"ordering": "-name"})) == ["beta", "alpha"]
    assert manager_api.get(CIS, {"stauts": "production"}).status_code == 400
    assert manager_api.get(CIS, {"ordering": "description"}).status_code == 400
    assert manager_api.get(CIS, {"status": "nonsense"}).status_code == 400
    page = manager_api.get(CIS, {"page_size": 1}).json()
    assert page["count"] == 2 and len(page["results"]) == 1 and page["next"]


def test_impact_endpoint_contract(manager_api):
    a, b, c = (CIFactory(name=n) for n in "abc")
    link(a, b)
    link(b, c)
    link(c, a)
    body = manager_api.get(f"{CIS}{a.pk}/impact/", {"direction": "downstream", "depth": 6}).json()
    assert body["root"] == a.pk
    assert {n["name"]: n["depth"] for n in body["nodes"]} == {"a": 0, "b": 1, "c": 2}
    assert {"source", "target", "type"} == set(body["edges"][0])
    assert manager_api.get(f"{CIS}{a.pk}/impact/", {"depth": 0}).status_code == 400
    assert manager_api.get(f"{CIS}{a.pk}/impact/", {"direction": "sideways"}).status_code == 400


def test_software_put_replaces_and_is_recorded(manager_api):
    ci = CIFactory()
    url = f"{CIS}{ci.pk}/software/"
    items = [
        {"name": "nginx", "vendor": "F5", "version": "1.24"},
        {"name": "curl", "version": "8.0"},
    ]
    response = manager_api.put(url, items, format="json")
    assert response.status_code == 200
    assert sorted(i["name"] for i in response.json()) == ["curl", "nginx"]
    assert manager_api.put(url, [{"vendor": "x"}], format="json").status_code == 400
    assert HistoryEntry.objects.filter(ci=ci, kind="software").count() == 1


def test_relationships_api(manager_api):
    a, b = CIFactory(), CIFactory()
    RelationshipTypeFactory(slug="hosts-test", name="Hosts test")
    url = "/api/v1/cmdb/relationships/"
    body = {"source": a.pk, "target": b.pk, "type": "hosts-test"}
    assert manager_api.post(url, body, format="json").status_code == 201
    dup = manager_api.post(url, body, format="json")
    assert dup.status_code == 400
    unknown = manager_api.post(url, {**body, "target": 999999}, format="json")
    assert unknown.status_code == 400 and "target" in unknown.json()
    assert Relationship.objects.count() == 1


def test_ci_types_validate_their_schema(manager_api):
    url = "/api/v1/cmdb/ci-types/"
    bad = manager_api.post(
        url, {"name": "X", "slug": "x", "attribute_schema": {"type": "nonsense"}}, format="json"
    )
    assert bad.status_code == 400 and "attribute_schema" in bad.json()
    ok = manager_api.post(
        url, {"name": "X", "slug": "x", "attribute_schema": {"type": "object"}}, format="json"
    )
    assert ok.status_code == 201


def test_openapi_schema_and_docs(manager_api):
    schema = manager_api.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    assert "/api/v1/cmdb/cis/{id}/impact/" in schema.json()["paths"]
    docs = manager_api.get(reverse("swagger-ui"))
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content and b"cdn" not in docs.content.lower()


def test_as_of_endpoint(manager_api):
    ci = CIFactory()
    response = manager_api.get(f"{CIS}{ci.pk}/as-of/", {"at": "2000-01-01T00:00:00Z"})
    assert response.status_code == 200 and response.json()["exists"] is False
    assert manager_api.get(f"{CIS}{ci.pk}/as-of/", {"at": "yesterday"}).status_code == 400


def test_fast_list_rows_match_the_serializer(manager_api, make_user):
    from cmdb.api.serializers import CISerializer
    from tests.factories import DepartmentFactory, SiteFactory

    ci = CIFactory(
        ci_type=server_type(),
        attributes={"os": "Debian", "memory_mb": 4096},
        owner=make_user(None),
        department=DepartmentFactory(),
        site=SiteFactory(),
        serial_number="S-9",
    )
    listed = manager_api.get(CIS).json()["results"][0]
    detail = manager_api.get(f"{CIS}{ci.pk}/").json()
    assert listed == detail == json.loads(json.dumps(CISerializer(ci).data))


def test_list_pages_are_cached_until_the_cmdb_changes(manager_api, settings):
    settings.SHARED_CACHE = True  # as with Redis: one cache shared by every process
    ci = CIFactory(ci_type=server_type(), attributes={"os": "x"}, name="before")
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    assert manager_api.get(CIS).json()["results"][0]["name"] == "before"
    with CaptureQueriesContext(connection) as hit:
        assert manager_api.get(CIS).json()["results"][0]["name"] == "before"
    assert not any("cmdb_configurationitem" in q["sql"] for q in hit.captured_queries)
    from django.db import transaction

    from cmdb import services
    from tests.factories import SYSTEM

    with transaction.atomic():
        services.ci_update(context=SYSTEM, ci_id=ci.pk, data={"name": "after"}, expected_version=1)
    run_on_commit()
    assert manager_api.get(CIS).json()["results"][0]["name"] == "after"
    # Different filters are different pages.
    assert manager_api.get(CIS, {"q": "nothing-matches"}).json()["count"] == 0


def run_on_commit():
    """Inside the test's transaction nothing commits: run the pending on_commit callbacks."""
    from django.db import connection

    callbacks = list(connection.run_on_commit)
    connection.run_on_commit.clear()
    for _, callback, _ in callbacks:
        callback()


def test_a_changed_ci_type_schema_applies_at_once_with_the_shared_cache(manager_api, settings):
    settings.SHARED_CACHE = True
    ci_type = server_type()
    assert manager_api.post(CIS, server_payload(name="a"), format="json").status_code == 201
    ci_type.attribute_schema = {**ci_type.attribute_schema, "required": ["os", "cpu_cores"]}
    ci_type.save()
    run_on_commit()
    response = manager_api.post(CIS, server_payload(name="b"), format="json")
    assert response.status_code == 400 and "cpu_cores" in str(response.json()["attributes"])
