"""Who may do what: anonymous, denied and granted, on the API and the web UI."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from cmdb.models import ConfigurationItem
from itsm import roles
from itsm.tokens import api_token_create
from tests.factories import CIFactory, server_type

pytestmark = pytest.mark.django_db

CIS = "/api/v1/cmdb/cis/"


@pytest.fixture
def ci():
    return CIFactory(ci_type=server_type(), attributes={"os": "Debian"})


def client_for(user):
    client = APIClient()
    if user is not None:
        key, _ = api_token_create(actor=user, user=user, name="test")
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_anonymous_is_refused_everywhere(ci):
    client = APIClient()
    for url in [
        CIS,
        f"{CIS}{ci.pk}/",
        f"{CIS}{ci.pk}/history/",
        f"{CIS}{ci.pk}/impact/",
        "/api/v1/cmdb/relationships/",
        "/api/v1/cmdb/ci-types/",
        "/api/v1/schema/",
    ]:
        assert client.get(url).status_code in (401, 403), url
    assert client.post(CIS, {}, format="json").status_code in (401, 403)


def test_wrong_token_is_401(ci):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert client.get(CIS).status_code == 401


def test_user_without_role_cannot_read(make_user, ci):
    assert client_for(make_user(None)).get(CIS).status_code == 403


def test_end_users_cannot_read_the_cmdb(make_user, ci):
    # Self-service only: their own devices reach them through the incidents app.
    client = client_for(make_user(roles.END_USER))
    assert client.get(CIS).status_code == 403
    assert client.get(f"{CIS}{ci.pk}/").status_code == 403


@pytest.mark.parametrize(
    "role",
    [
        name
        for name, patterns in roles.ROLE_PERMISSIONS.items()
        if name != roles.CMDB_MANAGER and roles.READ_ALL in patterns
    ],
)
def test_other_roles_read_but_cannot_write(make_user, ci, role):
    client = client_for(make_user(role))
    assert client.get(CIS).status_code == 200
    assert client.get(f"{CIS}{ci.pk}/impact/").status_code == 200
    assert (
        client.post(
            CIS, {"name": "x", "ci_type": "test-server", "attributes": {"os": "y"}}, format="json"
        ).status_code
        == 403
    )
    assert (
        client.patch(
            f"{CIS}{ci.pk}/", {"description": "x", "version": 1}, format="json"
        ).status_code
        == 403
    )
    assert (
        client.post(f"{CIS}{ci.pk}/transition/", {"status": "received"}, format="json").status_code
        == 403
    )
    assert client.put(f"{CIS}{ci.pk}/software/", [], format="json").status_code == 403
    assert client.delete(f"{CIS}{ci.pk}/").status_code == 403
    ci.refresh_from_db()
    assert (ci.status, ci.version, ci.description) == ("ordered", 1, "")


def test_cmdb_manager_may_write(make_user, ci):
    client = client_for(make_user(roles.CMDB_MANAGER))
    assert (
        client.post(f"{CIS}{ci.pk}/transition/", {"status": "received"}, format="json").status_code
        == 200
    )
    assert client.delete(f"{CIS}{ci.pk}/").status_code == 204
    assert not ConfigurationItem.objects.filter(pk=ci.pk).exists()


def test_html_pages_require_login_and_permission(client, make_user, ci):
    response = client.get("/cmdb/cis/")
    assert response.status_code == 302 and "/login/" in response["Location"]
    client.force_login(make_user(None))
    assert client.get("/cmdb/cis/").status_code == 403
    assert client.get(f"/cmdb/cis/{ci.pk}/").status_code == 403
    client.force_login(make_user(roles.READ_ONLY))
    assert client.get("/cmdb/cis/").status_code == 200
    assert client.get("/cmdb/cis/new/").status_code == 403
    assert client.post(f"/cmdb/cis/{ci.pk}/transition/", {"status": "received"}).status_code == 403
    ci.refresh_from_db()
    assert ci.status == "ordered"


def test_roles_exist_with_expected_permissions():
    from django.contrib.auth.models import Group

    assert set(Group.objects.values_list("name", flat=True)) >= set(roles.ROLE_PERMISSIONS)
    manager = Group.objects.get(name=roles.CMDB_MANAGER)
    codenames = set(manager.permissions.values_list("codename", flat=True))
    assert {
        "add_configurationitem",
        "transition_ci",
        "import_ci",
        "view_configurationitem",
    } <= codenames
    read_only = Group.objects.get(name=roles.READ_ONLY)
    assert not read_only.permissions.exclude(codename__startswith="view_").exists()


def test_cached_permissions_follow_a_role_change(make_user, settings, ci):
    """With a shared cache, permissions are cached; leaving a group takes effect at once."""
    from django.contrib.auth.models import Group
    from django.db import connection

    settings.SHARED_CACHE = True
    user = make_user(roles.READ_ONLY)
    client = client_for(user)
    assert client.get(CIS).status_code == 200
    user.groups.remove(Group.objects.get(name=roles.READ_ONLY))
    for _, callback, _ in list(connection.run_on_commit):  # the test's transaction never commits
        callback()
    connection.run_on_commit.clear()
    assert client.get(CIS).status_code == 403


def test_admin_lists_every_model(admin_client):
    """The Django admin has a page for every model of the project."""
    from django.apps import apps

    for app in ("cmdb", "agents", "incidents"):
        for model in apps.get_app_config(app).get_models():
            url = f"/admin/{app}/{model._meta.model_name}/"
            assert admin_client.get(url).status_code == 200, url
