"""Bad input answers 4xx and writes nothing, never a 500 (issue 7, item 3).

NUL characters and lone surrogates in any JSON string, JSON nested too deeply, date-times the
database cannot store, NUL in query strings and HTML forms, non-numeric ids.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cmdb.models import CIType, ConfigurationItem, HistoryEntry, RelationshipType
from tests.factories import CIFactory, server_type

pytestmark = pytest.mark.django_db

CIS = "/api/v1/cmdb/cis/"
NUL = "bad\u0000value"
SURROGATE = "bad\ud800value"


def post_raw(client, url, body: str, method="post"):
    """Send `body` as it is (json.dumps escapes NUL and surrogates as \\u0000, \\ud800)."""
    return getattr(client, method)(url, data=body, content_type="application/json")


def ci_payload(**overrides):
    server_type()
    data = {"name": "web-01", "ci_type": "test-server", "attributes": {"os": "Debian 12"}}
    data.update(overrides)
    return data


@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "lone-surrogate"])
@pytest.mark.parametrize(
    ("where", "field"),
    [
        ({"attributes": {"os": "Debian", "note": "{bad}"}}, "attributes.note"),
        ({"attributes": {"os": "Debian", "{bad}": "x"}}, "attributes"),
        (
            {"attributes": {"os": "Debian", "nested": [{"deep": "{bad}"}]}},
            "attributes.nested[0].deep",
        ),
        ({"ci_type": "{bad}"}, "ci_type"),
        ({"owner": "{bad}"}, "owner"),
        ({"department": "{bad}"}, "department"),
        ({"site": "{bad}"}, "site"),
        ({"name": "{bad}"}, "name"),
    ],
)
def test_unstorable_characters_in_a_ci_answer_400_naming_the_field(manager_api, bad, where, field):
    body = json.dumps(ci_payload(**where)).replace("{bad}", json.dumps(bad)[1:-1])
    assert "\\u0000" in body or "\\ud800" in body
    response = post_raw(manager_api, CIS, body)
    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/json")
    assert field in response.json(), response.json()
    assert not ConfigurationItem.objects.exists()
    assert not HistoryEntry.objects.exists()


@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "lone-surrogate"])
@pytest.mark.parametrize(
    ("url", "payload", "model"),
    [
        (
            "/api/v1/cmdb/relationship-types/",
            {"name": "x", "slug": "x", "forward_label": "{bad}", "reverse_label": "y"},
            RelationshipType,
        ),
        (
            "/api/v1/cmdb/ci-types/",
            {"name": "t", "slug": "t", "attribute_schema": {"type": "object", "title": "{bad}"}},
            CIType,
        ),
    ],
)
def test_unstorable_characters_elsewhere_answer_400(manager_api, bad, url, payload, model):
    before = model.objects.count()
    body = json.dumps(payload).replace("{bad}", json.dumps(bad)[1:-1])
    response = post_raw(manager_api, url, body)
    assert response.status_code == 400, response.content
    assert model.objects.count() == before


@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "lone-surrogate"])
def test_unstorable_characters_in_relationship_type_and_role_user(manager_api, bad):
    ci = CIFactory()
    other = CIFactory()
    escaped = json.dumps(bad)[1:-1]
    response = post_raw(
        manager_api,
        "/api/v1/cmdb/relationships/",
        f'{{"source": {ci.pk}, "target": {other.pk}, "type": "{escaped}"}}',
    )
    assert response.status_code == 400 and "type" in response.json()
    response = post_raw(
        manager_api, f"{CIS}{ci.pk}/roles/", f'[{{"user": "{escaped}", "role": "owner"}}]', "put"
    )
    assert response.status_code == 400 and "[0].user" in response.json(), response.json()


def test_a_valid_surrogate_pair_is_accepted(manager_api):
    body = json.dumps(ci_payload(attributes={"os": "Debian \U0001f600"}))
    assert "\\ud83d\\ude00" in body
    response = post_raw(manager_api, CIS, body)
    assert response.status_code == 201, response.content
    assert ConfigurationItem.objects.get().attributes["os"] == "Debian \U0001f600"


def test_json_nested_deeper_than_the_limit_answers_400(manager_api, settings):
    settings.API_JSON_MAX_DEPTH = 32
    deep = "[" * 40 + "]" * 40
    body = json.dumps(ci_payload(attributes={"os": "x"})).replace('"x"', deep)
    response = post_raw(manager_api, CIS, body)
    assert response.status_code == 400, response.content
    assert "nested deeper than 32" in response.content.decode()
    very_deep = '{"a": ' * 100_000 + "1" + "}" * 100_000
    response = post_raw(manager_api, CIS, very_deep)
    assert response.status_code == 400, response.content
    assert not ConfigurationItem.objects.exists()


def test_nan_answers_400(manager_api):
    body = json.dumps(ci_payload()).replace('"Debian 12"', "NaN")
    assert post_raw(manager_api, CIS, body).status_code == 400


# --- date-times ---------------------------------------------------------------------------

BAD_DATETIMES = [
    "2026-01-01T00:00:00+20:00",
    "9999-12-31T23:59:59-12:00",
    "0001-01-01T00:00:00+05:00",
]


@pytest.mark.parametrize("value", BAD_DATETIMES)
@pytest.mark.parametrize(
    "url",
    [
        CIS + "?updated_after={v}",
        CIS + "?updated_before={v}",
        "/api/v1/agents/events/?since={v}",
    ],
)
def test_datetime_filters_refuse_what_the_database_cannot_store(manager_api, url, value):
    CIFactory()
    response = manager_api.get(url.format(v=value.replace("+", "%2B")))
    assert response.status_code == 400, response.content


@pytest.mark.parametrize("value", BAD_DATETIMES)
def test_as_of_refuses_what_the_database_cannot_store(manager_api, value):
    ci = CIFactory()
    response = manager_api.get(f"{CIS}{ci.pk}/as-of/", {"at": value})
    assert response.status_code == 400, response.content


def test_a_far_offset_within_range_still_works(manager_api):
    ci = CIFactory()
    response = manager_api.get(CIS, {"updated_after": "2000-01-01T00:00:00+14:00"})
    assert response.status_code == 200 and response.json()["count"] == 1
    response = manager_api.get(f"{CIS}{ci.pk}/as-of/", {"at": "2999-01-01T00:00:00+14:00"})
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("value", BAD_DATETIMES)
def test_html_pages_and_csv_export_refuse_bad_datetimes(client, cmdb_manager, value):
    client.force_login(cmdb_manager)
    ci = CIFactory()
    response = client.get(f"/cmdb/cis/{ci.pk}/", {"at": value})
    assert response.status_code == 200  # the page, with the form's error
    assert response.context["as_of_form"].errors
    assert response.context["as_of"] is None
    response = client.get("/cmdb/cis/", {"updated_after": value})
    assert response.status_code in (200, 400)
    response = client.get("/cmdb/export/cis.csv", {"updated_after": value})
    assert response.status_code == 400, response.status_code


# --- query strings and HTML forms ---------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/cmdb/cis/?q=%00",
        "/cmdb/cis/{pk}/?software_q=%00",
        "/cmdb/cis/?owner=%00",
        "/cmdb/cis/?department=%00",
        "/cmdb/export/cis.csv?q=%00",
    ],
)
def test_nul_in_a_query_string_answers_400_on_pages(client, cmdb_manager, url):
    client.force_login(cmdb_manager)
    ci = CIFactory()
    response = client.get(url.format(pk=ci.pk))
    assert response.status_code == 400


@pytest.mark.parametrize(
    "url",
    [CIS + "?q=%00", CIS + "?hostname=%00", CIS + "?owner=%00", "/api/v1/agents/?q=%00"],
)
def test_nul_in_a_query_string_answers_json_400_on_the_api(manager_api, url):
    response = manager_api.get(url)
    assert response.status_code == 400
    assert "detail" in response.json() or response.json()


def test_nul_in_an_html_form_answers_400_and_writes_nothing(client, cmdb_manager):
    client.force_login(cmdb_manager)
    ci_type = server_type()
    response = client.post(
        "/cmdb/cis/new/",
        {"name": "web\x00", "ci_type": ci_type.pk, "owner": "\x00", "attributes": "{}"},
    )
    assert response.status_code == 400
    assert not ConfigurationItem.objects.exists()


# --- ids ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        CIS + "abc/",
        "/api/v1/cmdb/relationships/abc/",
        "/api/v1/agents/policies/abc/",
        "/api/v1/agents/discrepancies/abc/",
    ],
)
def test_non_numeric_ids_answer_404(manager_api, url):
    assert manager_api.delete(url).status_code in (400, 404, 405)
    assert manager_api.get(url).status_code in (400, 404)


# --- signed agent reports with impossible dates -------------------------------------------


def glpi_document(**envelope):
    path = Path("/work/shared/data/inventory-samples/glpi-json/computer_2.json")
    sample = json.loads(path.read_text())
    return {"format": "glpi-inventory", "content": sample.get("content", sample), **envelope}


@pytest.mark.parametrize(
    "value", ["2026-02-30T10:00:00Z", "2026-02-30", "2026-01-01T00:00:00+20:00", "yesterday"]
)
def test_a_signed_glpi_report_with_an_impossible_date_answers_400(client, value):
    from agents.models import InventoryReport
    from tests.agents.conftest import make_agent

    agent = make_agent()
    response = agent.post(client, glpi_document(collected_at=value))
    assert response.status_code == 400, response.content
    assert "collected_at" in response.json()["detail"]
    assert not InventoryReport.objects.exists()
    assert not ConfigurationItem.objects.exists()


def test_a_native_report_with_an_impossible_event_date_answers_400(client):
    from agents.models import InventoryReport
    from tests.agents.conftest import make_agent, native_report

    agent = make_agent()
    document = native_report()
    document["events"][0]["at"] = "2026-02-30T08:00:00Z"
    response = agent.post(client, document)
    assert response.status_code == 400, response.content
    assert "events[0].at" in response.json()["detail"]
    assert not InventoryReport.objects.exists()
    document["events"][0]["at"] = "2026-02-28T08:00:00Z"
    assert agent.post(client, document).status_code == 202


def _registered_prefixes():
    from agents.api.urls import router as agents_router
    from cmdb.api.urls import router as cmdb_router

    for base, router in (("/api/v1/cmdb/", cmdb_router), ("/api/v1/agents/", agents_router)):
        for prefix, _viewset, _basename in router.registry:
            yield base + (prefix + "/" if prefix else "")


@pytest.mark.parametrize("prefix", list(_registered_prefixes()))
@pytest.mark.parametrize("ident", ["abc", "1.5", "%00", "99999999999999999999999"])
def test_every_api_resource_answers_4xx_to_odd_ids(manager_api, prefix, ident):
    url = f"{prefix}{ident}/"
    for method in ("get", "delete", "patch"):
        response = getattr(manager_api, method)(url, {}, format="json")
        assert 400 <= response.status_code < 500, (method, url, response.status_code)


@pytest.mark.parametrize("value", BAD_DATETIMES)
def test_api_csv_export_refuses_bad_datetimes(manager_api, value):
    CIFactory()
    response = manager_api.get("/api/v1/cmdb/export/cis/", {"updated_after": value})
    assert response.status_code == 400, response.status_code


# --- safety nets of the API exception handler ---------------------------------------------


def test_the_exception_handler_turns_database_refusals_into_4xx():
    from django.db import DataError
    from django.db.models import ProtectedError

    from itsm.exceptions import api_exception_handler

    response = api_exception_handler(DataError("value out of range"), {})
    assert response.status_code == 400 and "detail" in response.data
    response = api_exception_handler(ProtectedError("in use", {"agent web-01"}), {})
    assert response.status_code == 409 and response.data["used_by"] == ["agent web-01"]


@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "lone-surrogate"])
def test_unstorable_characters_in_a_policy_answer_400(manager_api, bad):
    from agents.models import AgentGroup

    before = AgentGroup.objects.count()
    body = json.dumps({"name": "{bad}", "description": "x"}).replace("{bad}", json.dumps(bad)[1:-1])
    response = post_raw(manager_api, "/api/v1/agents/policies/", body)
    assert response.status_code == 400 and "name" in response.json()
    assert AgentGroup.objects.count() == before


@pytest.mark.parametrize(
    ("escaped", "refused"),
    [
        ("\\ud83d\\ude00", False),
        ("\\uD83D\\uDE00", False),
        ("caf\\u00e9", False),
        ("\\ud800", True),
        ("\\ud800x", True),
        ("\\udc00", True),
        ("\\ude00\\ude00", True),
        ("\\ud83d\\ude00\\ude00", True),
        ("\\ud83d\\ud83d\\ude00", True),
        ("\\u0000", True),
    ],
)
def test_the_parser_refuses_exactly_nul_and_lone_surrogates(escaped, refused):
    import io

    from rest_framework.exceptions import ValidationError

    from itsm.parsers import SafeJSONParser

    body = f'{{"a": ["{escaped}"]}}'.encode()
    if refused:
        with pytest.raises(ValidationError) as info:
            SafeJSONParser().parse(io.BytesIO(body))
        assert "a[0]" in info.value.detail
    else:
        assert SafeJSONParser().parse(io.BytesIO(body)) == json.loads(body)


@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "lone-surrogate"])
def test_a_signed_report_with_unstorable_characters_answers_400(client, bad):
    from agents.models import InventoryReport
    from tests.agents.conftest import make_agent, native_report

    agent = make_agent()
    document = native_report()
    document["software"][0]["name"] = bad
    body = json.dumps(document, separators=(",", ":")).encode()
    response = agent.post(client, body=body)
    assert response.status_code == 400, response.content
    assert "software[0].name" in response.json()["detail"]
    assert not InventoryReport.objects.exists()
