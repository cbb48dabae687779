"""The CI form: attribute fields from the type's JSON Schema, search-as-you-type look-ups."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.auth.models import Permission

from cmdb import lookups
from cmdb.forms import CIForm, RelationshipForm, RoleForm
from cmdb.models import ConfigurationItem
from tests.factories import CIFactory, CITypeFactory, server_type

SCHEMA = {
    "type": "object",
    "properties": {
        "os": {"type": "string", "maxLength": 50, "pattern": "^[A-Za-z]"},
        "cpu_cores": {"type": "integer", "minimum": 1, "maximum": 512},
        "size_gb": {"type": "number", "minimum": 0},
        "virtual": {"type": "boolean"},
        "environment": {"enum": ["production", "staging", "test"]},
        "url": {"type": "string", "format": "uri"},
        "contact": {"type": "string", "format": "email"},
        "bought": {"type": "string", "format": "date"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "backup": {"type": "object", "properties": {"policy": {"type": "string"}}},
    },
    "required": ["os", "environment"],
}


@pytest.fixture
def kind(db):
    return CITypeFactory(name="Box", slug="box", attribute_schema=SCHEMA)


@pytest.fixture
def manager_client(client, cmdb_manager):
    client.force_login(cmdb_manager)
    return client


def field_html(page: str, name: str) -> str:
    """The markup of one field's block in the rendered form."""
    match = re.search(rf'<div class="mb-3" data-field="{name}">(.*?)\n</div>', page, re.S)
    assert match, f"no field {name}"
    return match.group(1)


def post_data(kind, **attrs) -> dict:
    data = {"name": "box-1", "ci_type": kind.pk, "attributes": "{}"}
    data.update({f"attr__{k}": v for k, v in attrs.items()})
    return data


# --- rendering ------------------------------------------------------------------------------


def test_form_renders_one_input_per_property_with_required_marked(manager_client, kind):
    page = manager_client.get(f"/cmdb/cis/new/?ci_type={kind.pk}").content.decode()
    page = manager_client.get("/cmdb/cis/new/").content.decode()  # no type yet: no fields
    assert 'name="attr__os"' not in page and "Choose a type" in page

    form = CIForm(initial={"ci_type": kind.pk})
    # Required first (JSONB keeps no order), readable labels.
    assert form.attribute_names[:2] == ["attr__environment", "attr__os"]
    assert form["attr__cpu_cores"].label == "CPU cores"
    html = {name: str(form[name]) for name in form.attribute_names}
    assert 'type="text"' in html["attr__os"] and 'maxlength="50"' in html["attr__os"]
    assert 'type="number"' in html["attr__cpu_cores"]
    assert 'min="1"' in html["attr__cpu_cores"] and 'max="512"' in html["attr__cpu_cores"]
    assert 'type="number"' in html["attr__size_gb"]
    assert 'type="checkbox"' in html["attr__virtual"]
    assert html["attr__environment"].startswith("<select")
    assert '<option value="staging">staging</option>' in html["attr__environment"]
    assert 'type="url"' in html["attr__url"]
    assert 'type="email"' in html["attr__contact"]
    assert 'type="date"' in html["attr__bought"]
    assert 'type="text"' in html["attr__tags"]  # a comma list
    assert "<textarea" in html["attr__backup"]  # a nested object: JSON for that key only


def test_edit_page_marks_required_and_offers_enum_as_select(manager_client, kind, make_user):
    owner = make_user(None, username="jsmith", first_name="Jane", last_name="Smith")
    for i in range(5):
        make_user(None, username=f"other{i}")
    ci = CIFactory(ci_type=kind, owner=owner, attributes={"os": "Debian", "environment": "test"})
    page = manager_client.get(f"/cmdb/cis/{ci.pk}/edit/").content.decode()
    # The owner select holds the current owner only; the rest are searched for.
    owner_block = field_html(page, "owner")
    assert f'<option value="{owner.pk}" selected>Jane Smith (jsmith)</option>' in owner_block
    assert owner_block.count("<option") == 2 and "other1" not in owner_block
    assert 'data-autocomplete="/cmdb/lookup/users/"' in owner_block
    os_block = field_html(page, "attr__os")
    assert "(required)" in os_block and 'value="Debian"' in os_block
    assert "(required)" not in field_html(page, "attr__cpu_cores")
    env = field_html(page, "attr__environment")
    assert "<select" in env and '<option value="test" selected>test</option>' in env
    assert "Other attributes" in page


# --- saving ---------------------------------------------------------------------------------


def test_posting_fields_saves_attributes_of_the_right_types(manager_client, kind):
    response = manager_client.post(
        "/cmdb/cis/new/",
        post_data(
            kind,
            os="Debian 12",
            cpu_cores="8",
            size_gb="2.5",
            virtual="on",
            environment="staging",
            url="https://shop.example.org/",
            tags="web, eu ,, shop",
            backup='{"policy": "nightly"}',
            contact="",
        ),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    ci = ConfigurationItem.objects.get(name="box-1")
    assert ci.attributes == {
        "os": "Debian 12",
        "cpu_cores": 8,
        "size_gb": 2.5,
        "virtual": True,
        "environment": "staging",
        "url": "https://shop.example.org/",
        "tags": ["web", "eu", "shop"],
        "backup": {"policy": "nightly"},
    }
    assert type(ci.attributes["cpu_cores"]) is int


def test_unchecked_boolean_is_false_and_whole_numbers_stay_ints(manager_client, kind):
    manager_client.post("/cmdb/cis/new/", post_data(kind, os="x", environment="test", size_gb="3"))
    attributes = ConfigurationItem.objects.get().attributes
    assert attributes["virtual"] is False
    assert attributes["size_gb"] == 3 and type(attributes["size_gb"]) is int


def test_an_invalid_value_shows_a_field_error_and_saves_nothing(manager_client, kind):
    response = manager_client.post(
        "/cmdb/cis/new/", post_data(kind, os="x", environment="test", cpu_cores="many")
    )
    assert response.status_code == 400
    assert "whole number" in field_html(response.content.decode(), "attr__cpu_cores")
    assert not ConfigurationItem.objects.exists()


def test_the_services_schema_errors_land_on_their_fields(manager_client, kind):
    response = manager_client.post("/cmdb/cis/new/", post_data(kind, os="9abc", cpu_cores="2"))
    assert response.status_code == 400
    page = response.content.decode()
    assert "does not match" in field_html(page, "attr__os")
    assert "is a required property" in field_html(page, "attr__environment")
    assert "invalid-feedback" not in field_html(page, "attr__cpu_cores")
    assert not ConfigurationItem.objects.exists()


def test_extra_keys_survive_an_edit(manager_client, kind):
    ci = CIFactory(
        ci_type=kind,
        attributes={"os": "Debian", "environment": "test", "rack": "B4", "legacy": {"id": 7}},
    )
    page = manager_client.get(f"/cmdb/cis/{ci.pk}/edit/").content.decode()
    box = field_html(page, "attributes")
    assert "rack" in box and "legacy" in box and "Debian" not in box
    form = CIForm(initial=CIForm.initial_for(ci))
    data = {
        "name": ci.name,
        "ci_type": kind.pk,
        "version": ci.version,
        "attributes": form["attributes"].value(),
        "attr__os": "Ubuntu",
        "attr__environment": "test",
    }
    response = manager_client.post(f"/cmdb/cis/{ci.pk}/edit/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    ci.refresh_from_db()
    assert ci.attributes == {
        "os": "Ubuntu",
        "environment": "test",
        "virtual": False,
        "rack": "B4",
        "legacy": {"id": 7},
    }


def test_raw_json_in_the_other_attributes_box_still_works(manager_client):
    kind = server_type()
    response = manager_client.post(
        "/cmdb/cis/new/", {"name": "raw", "ci_type": kind.pk, "attributes": '{"cpu_cores": 0}'}
    )
    assert response.status_code == 400
    assert "is a required property" in field_html(response.content.decode(), "attr__os")
    ok = manager_client.post(
        "/cmdb/cis/new/", {"name": "raw", "ci_type": kind.pk, "attributes": '{"os": "Debian"}'}
    )
    assert ok.status_code == 302
    assert ConfigurationItem.objects.get().attributes == {"os": "Debian"}


# --- switching type (htmx) ------------------------------------------------------------------


def test_changing_type_swaps_the_fields_and_keeps_typed_values(manager_client, kind):
    other = server_type()
    response = manager_client.get(
        "/cmdb/cis/attribute-fields/",
        {
            "ci_type": other.pk,
            "attributes_type": kind.pk,
            "attr__os": "Debian",
            "attr__cpu_cores": "4",
            "attr__environment": "test",
            "attributes": '{"rack": "B4"}',
        },
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "<html" not in page
    assert 'name="attr__memory_mb"' in page and 'name="attr__environment"' not in page
    assert 'value="Debian"' in field_html(page, "attr__os")
    assert 'value="4"' in field_html(page, "attr__cpu_cores")
    box = field_html(page, "attributes")
    assert "environment" in box and "rack" in box


# --- look-ups -------------------------------------------------------------------------------


def test_lookups_refuse_anonymous_and_users_without_permission(client, make_user):
    for url in ("/cmdb/lookup/users/", "/cmdb/lookup/cis/", "/cmdb/cis/attribute-fields/"):
        response = client.get(url, {"q": "a"})
        assert response.status_code == 302 and "/login" in response["Location"], url
    client.force_login(make_user(None))
    for url in ("/cmdb/lookup/users/", "/cmdb/lookup/cis/", "/cmdb/cis/attribute-fields/"):
        assert client.get(url, {"q": "a"}).status_code == 403, url


def test_user_lookup_searches_username_names_and_email(client, make_user):
    viewer = make_user(None, username="viewer")
    viewer.user_permissions.add(Permission.objects.get(codename="view_person"))
    client.force_login(viewer)
    make_user(
        None, username="jsmith", first_name="Jane", last_name="Smith", email="js@corp.example"
    )
    make_user(None, username="bob", first_name="Bob", last_name="Jones", email="b@x.example")
    make_user(None, username="gone", first_name="Jane", is_active=False)

    def ids(q):
        return [
            r["username"] for r in client.get("/cmdb/lookup/users/", {"q": q}).json()["results"]
        ]

    assert ids("jsmith") == ["jsmith"]
    assert ids("jane") == ["jsmith"]  # the inactive one is not offered
    assert ids("corp.example") == ["jsmith"]
    assert ids("jane smith") == ["jsmith"]
    result = client.get("/cmdb/lookup/users/", {"q": "bob"}).json()["results"][0]
    assert result["text"] == "Bob Jones (bob)" and isinstance(result["id"], int)


def test_ci_lookup_searches_name_hostname_serial_and_asset_tag(client, read_only_user):
    client.force_login(read_only_user)
    kind = server_type()
    CIFactory(
        ci_type=kind,
        name="shop-db",
        hostname="db7.example.org",
        serial_number="SN-77",
        asset_tag="AT-1001",
        attributes={"os": "x"},
    )
    CIFactory(ci_type=kind, name="web-1", attributes={"os": "x"})
    old = CIFactory(ci_type=kind, name="old-db", attributes={"os": "x"})
    ConfigurationItem.objects.filter(pk=old.pk).update(status="disposed")  # CIs start live

    def names(q):
        return [r["text"] for r in client.get("/cmdb/lookup/cis/", {"q": q}).json()["results"]]

    for q in ("shop", "DB7.example", "sn-77", "AT-1001"):
        assert names(q) == ["shop-db"], q
    assert names("") == ["shop-db", "web-1"]


@pytest.mark.parametrize("view", [lookups.lookup_users, lookups.lookup_cis])
def test_lookups_return_at_most_20_in_one_query(
    rf, read_only_user, make_user, django_assert_num_queries, view
):
    kind = server_type()
    for i in range(25):
        make_user(None, username=f"user{i:02}")
        CIFactory(ci_type=kind, name=f"ci-{i:02}", attributes={"os": "x"})
    request = rf.get("/lookup/", {"q": ""})
    request.user = read_only_user
    read_only_user.has_perm("cmdb.view_person")  # the permissions of this login, cached
    with django_assert_num_queries(1):  # the search, whatever the number of matches
        response = view(request)
    assert len(json.loads(response.content)["results"]) == lookups.LIMIT == 20


def test_relationship_form_other_ci_is_a_search_select():
    html = str(RelationshipForm()["other"])
    assert 'data-autocomplete="/cmdb/lookup/cis/"' in html
    assert html.count("<option") == 1


def test_relationship_list_filters_by_a_searched_ci(manager_client):
    ci = CIFactory(ci_type=server_type(), attributes={"os": "x"})
    page = manager_client.get("/cmdb/relationships/", {"ci": ci.pk}).content.decode()
    assert 'data-autocomplete="/cmdb/lookup/cis/"' in page
    assert f'<option value="{ci.pk}" selected>' in page


def test_role_form_person_is_searched_and_posted_by_username(manager_client, make_user):
    html = str(RoleForm()["user"])
    assert 'data-autocomplete="/cmdb/lookup/users/"' in html
    assert 'data-value-field="username"' in html and html.count("<option") == 1
    ci = CIFactory(ci_type=server_type(), attributes={"os": "x"})
    make_user(None, username="jsmith")
    response = manager_client.post(
        f"/cmdb/cis/{ci.pk}/roles/add/", {"user": "jsmith", "role": "systems_manager"}
    )
    assert response.status_code == 302
    assert ci.roles.get().user.username == "jsmith"
