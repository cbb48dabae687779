"""Size limits (issue 7, item 4): attributes, software lists and request bodies."""

from __future__ import annotations

import json

import pytest

from cmdb.models import ConfigurationItem, InstalledSoftware
from tests.factories import CIFactory, server_type

pytestmark = pytest.mark.django_db

CIS = "/api/v1/cmdb/cis/"


def create(client, attributes):
    server_type()
    return client.post(
        CIS,
        {"name": "web-01", "ci_type": "test-server", "attributes": {"os": "x", **attributes}},
        format="json",
    )


def test_an_attribute_string_above_the_limit_answers_400(manager_api, settings):
    settings.CMDB_ATTRIBUTE_MAX_STRING = 64 * 1024
    response = create(manager_api, {"blob": "x" * (64 * 1024 + 1)})
    assert response.status_code == 400, response.content
    assert "blob" in response.json()["attributes"][0]
    assert not ConfigurationItem.objects.exists()
    assert create(manager_api, {"blob": "x" * (64 * 1024)}).status_code == 201


def test_too_many_attribute_keys_answer_400(manager_api, settings):
    settings.CMDB_ATTRIBUTE_MAX_KEYS = 500
    many = {f"k{i}": i for i in range(600)}
    response = create(manager_api, many)
    assert response.status_code == 400
    assert "500 keys" in response.json()["attributes"][0]
    nested = {"a": {f"k{i}": i for i in range(300)}, "b": {f"k{i}": i for i in range(300)}}
    assert create(manager_api, nested).status_code == 400  # nested keys count too
    assert not ConfigurationItem.objects.exists()


def test_attributes_nested_too_deeply_answer_400(manager_api, settings):
    settings.CMDB_ATTRIBUTE_MAX_DEPTH = 10
    deep: dict = {"leaf": 1}
    for _ in range(10):
        deep = {"d": deep}
    response = create(manager_api, {"deep": deep})
    assert response.status_code == 400
    assert "deeper than 10" in response.json()["attributes"][0]


def test_attributes_above_the_total_size_answer_400(manager_api, settings):
    settings.CMDB_ATTRIBUTE_MAX_BYTES = 256 * 1024
    attributes = {f"k{i}": "x" * 60_000 for i in range(5)}
    response = create(manager_api, attributes)
    assert response.status_code == 400
    assert "at most 262144 bytes" in response.json()["attributes"][0]


def test_attribute_limits_apply_to_updates_and_the_html_form(manager_api, client, settings):
    settings.CMDB_ATTRIBUTE_MAX_STRING = 100
    ci = CIFactory()
    response = manager_api.patch(
        f"{CIS}{ci.pk}/",
        {"attributes": {"os": "x", "blob": "y" * 101}, "version": ci.version},
        format="json",
    )
    assert response.status_code == 400
    ci.refresh_from_db()
    assert "blob" not in ci.attributes
    client.force_login(manager_api.user)
    response = client.post(
        f"/cmdb/cis/{ci.pk}/edit/",
        {
            "name": ci.name,
            "ci_type": ci.ci_type_id,
            "attributes": json.dumps({"os": "x", "blob": "y" * 101}),
            "version": ci.version,
        },
    )
    assert response.status_code in (200, 400)
    ci.refresh_from_db()
    assert "blob" not in ci.attributes


def test_a_software_list_above_the_limit_answers_400(manager_api, settings):
    settings.CMDB_SOFTWARE_MAX_ITEMS = 100
    ci = CIFactory()
    items = [{"name": f"pkg{i}", "version": "1"} for i in range(101)]
    response = manager_api.put(f"{CIS}{ci.pk}/software/", items, format="json")
    assert response.status_code == 400, response.content
    assert "At most 100 items" in response.content.decode()
    assert not InstalledSoftware.objects.exists()
    response = manager_api.put(f"{CIS}{ci.pk}/software/", items[:100], format="json")
    assert response.status_code == 200


@pytest.mark.parametrize("megabytes", [11, 50])
def test_an_oversized_api_body_answers_json_413(manager_api, megabytes):
    body = json.dumps([{"name": "x" * 1000, "ci_type": "server"}] * (megabytes * 1024))
    assert len(body) > megabytes * 1024 * 1024
    response = manager_api.generic("POST", CIS, body, content_type="application/json")
    assert response.status_code == 413
    assert response["Content-Type"].startswith("application/json")
    assert "detail" in response.json()
    assert not ConfigurationItem.objects.exists()


def test_the_parser_enforces_the_limit_without_a_content_length(settings):
    """A chunked body (no Content-Length) is cut off by the parser at the limit."""
    import io

    from itsm.parsers import PayloadTooLarge, SafeJSONParser

    settings.API_MAX_BODY_BYTES = 1000
    with pytest.raises(PayloadTooLarge):
        SafeJSONParser().parse(io.BytesIO(b'["' + b"x" * 2000 + b'"]'))
    assert SafeJSONParser().parse(io.BytesIO(b'["x"]')) == ["x"]


def test_request_data_too_big_in_the_api_answers_json_413(manager_api, settings):
    """Django's own RequestDataTooBig (request.body read past DATA_UPLOAD_MAX_MEMORY_SIZE)
    is a JSON 413 in the API, not Django's HTML 400."""
    from django.core.exceptions import RequestDataTooBig

    from itsm.exceptions import api_exception_handler

    response = api_exception_handler(RequestDataTooBig("too big"), {})
    assert response.status_code == 413 and "detail" in response.data


def test_the_html_ci_list_neither_loads_nor_renders_attributes(client, cmdb_manager, settings):
    """A list page of CIs with the largest attributes allowed stays small: attributes are
    shown on the detail page only, so the list does not even fetch them."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    big = {"os": "x", "blob": "y" * 60_000}
    for n in range(3):
        CIFactory(name=f"big-{n}", attributes=big)
    client.force_login(cmdb_manager)
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/cmdb/cis/")
    assert response.status_code == 200
    assert len(response.content) < 60_000
    ci_queries = [q["sql"] for q in queries if 'FROM "cmdb_configurationitem"' in q["sql"]]
    assert ci_queries and not any('"attributes"' in sql for sql in ci_queries)


@pytest.mark.parametrize("escaped", ["\\u0000", "\\ud800"])
def test_unstorable_characters_in_the_html_forms_json_answer_a_form_error(
    client, cmdb_manager, escaped
):
    """The CI form's attributes are JSON text: `\\u0000` arrives as six harmless characters
    and only becomes a NUL once decoded, past the request guard."""
    ci_type = server_type()
    client.force_login(cmdb_manager)
    response = client.post(
        "/cmdb/cis/new/",
        {
            "name": "web-01",
            "ci_type": ci_type.pk,
            "status": "ordered",
            "attributes": '{"os": "x", "note": "bad' + escaped + '"}',
        },
    )
    assert response.status_code in (200, 400)
    assert not ConfigurationItem.objects.exists()
    assert "not allowed" in response.content.decode()
