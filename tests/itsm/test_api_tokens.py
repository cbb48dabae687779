"""API tokens: hashed at rest, several per user, expiry, revocation, last use, the command,
and a deactivated user refused at once (issue 7, items 9 and 10)."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import io

import pytest
from django.apps import apps as global_apps
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from itsm import tokens
from itsm.models import ApiToken

pytestmark = pytest.mark.django_db

CIS = "/api/v1/cmdb/cis/"


def token_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def reader(make_user):
    return make_user("Read Only", username="reader")


def test_the_database_holds_only_the_hash(reader):
    key, _ = tokens.api_token_create(actor=reader, user=reader, name="backup script")
    assert token_client(key).get(CIS).status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM itsm_apitoken")
        rows = cursor.fetchall()
    assert rows and not any(key in str(value) for row in rows for value in row)
    assert ApiToken.objects.get().key_hash == hashlib.sha256(key.encode()).hexdigest()


def test_several_named_tokens_per_user_each_work(reader):
    keys = [tokens.api_token_create(actor=reader, user=reader, name=f"t{i}")[0] for i in range(3)]
    assert len(set(keys)) == 3
    assert [token_client(k).get(CIS).status_code for k in keys] == [200, 200, 200]
    assert set(ApiToken.objects.values_list("name", flat=True)) == {"t0", "t1", "t2"}


def test_an_expired_token_is_refused(reader):
    key, token = tokens.api_token_create(
        actor=reader, user=reader, name="short", expires=timezone.now() + dt.timedelta(hours=1)
    )
    assert token_client(key).get(CIS).status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(expires=timezone.now() - dt.timedelta(seconds=1))
    response = token_client(key).get(CIS)
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_an_expiry_in_the_past_is_refused_at_creation(reader):
    from itsm.exceptions import ApplicationError

    with pytest.raises(ApplicationError):
        tokens.api_token_create(
            actor=reader, user=reader, name="x", expires=timezone.now() - dt.timedelta(minutes=1)
        )
    assert not ApiToken.objects.exists()


def test_last_used_is_recorded_at_most_once_a_minute(reader, django_assert_num_queries):
    key, token = tokens.api_token_create(actor=reader, user=reader, name="t")
    assert token.last_used is None
    assert token_client(key).get(CIS).status_code == 200
    first = ApiToken.objects.get().last_used
    assert first is not None
    token_client(key).get(CIS)
    assert ApiToken.objects.get().last_used == first  # not rewritten within the minute
    ApiToken.objects.update(last_used=first - dt.timedelta(minutes=2))
    token_client(key).get(CIS)
    assert ApiToken.objects.get().last_used > first - dt.timedelta(minutes=1)


def test_a_user_deactivated_in_the_database_loses_token_access_at_once(reader, settings):
    """Item 9: `update()` sends no signal; with the shared cache on, the next call is 401."""
    settings.SHARED_CACHE = True  # what REDIS_URL turns on: cached permissions
    key, _ = tokens.api_token_create(actor=reader, user=reader, name="t")
    client = token_client(key)
    assert client.get(CIS).status_code == 200
    assert client.get(CIS).status_code == 200  # cached permissions in use
    get_user_model().objects.filter(pk=reader.pk).update(is_active=False)
    assert client.get(CIS).status_code == 401


def test_revoked_token_no_longer_works(reader):
    key, token = tokens.api_token_create(actor=reader, user=reader, name="t")
    tokens.api_token_revoke(actor=reader, token_id=token.pk)
    assert token_client(key).get(CIS).status_code == 401


def test_my_api_tokens_page_creates_shows_once_and_revokes(reader):
    browser = Client()
    browser.force_login(reader)
    assert "My API tokens" in browser.get("/").content.decode()
    created = browser.post("/account/tokens/", {"name": "laptop", "expires": ""})
    assert created.status_code == 200
    token = ApiToken.objects.get(user=reader)
    key = created.context["created"]["key"]
    assert key in created.content.decode() and token.name == "laptop"
    assert "no-store" in created["Cache-Control"] or "no-cache" in created["Cache-Control"]
    listing = browser.get("/account/tokens/").content.decode()
    assert "laptop" in listing and key not in listing  # shown once only
    assert token_client(key).get(CIS).status_code == 200
    revoked = browser.post(f"/account/tokens/{token.pk}/revoke/")
    assert revoked.status_code == 302
    assert token_client(key).get(CIS).status_code == 401


def test_my_api_tokens_page_refuses_bad_input_and_others_tokens(reader, make_user):
    browser = Client()
    browser.force_login(reader)
    bad = browser.post("/account/tokens/", {"name": "", "expires": "2000-01-01T00:00"})
    assert bad.status_code == 400 and not ApiToken.objects.exists()
    past = browser.post("/account/tokens/", {"name": "x", "expires": "2000-01-01T00:00"})
    assert past.status_code == 400 and not ApiToken.objects.exists()
    other = make_user("Read Only")
    _, theirs = tokens.api_token_create(actor=other, user=other, name="theirs")
    assert browser.post(f"/account/tokens/{theirs.pk}/revoke/").status_code == 404
    assert ApiToken.objects.filter(pk=theirs.pk).exists()
    assert browser.get(f"/account/tokens/{theirs.pk}/revoke/").status_code == 405


def test_admin_shows_the_hash_read_only_and_can_revoke(make_user):
    admin_user = make_user(None, is_staff=True, is_superuser=True)
    _, token = tokens.api_token_create(actor=admin_user, user=admin_user, name="t")
    browser = Client()
    browser.force_login(admin_user)
    page = browser.get(f"/admin/itsm/apitoken/{token.pk}/change/")
    assert page.status_code == 200 and token.key_hash in page.content.decode()
    assert 'name="key_hash"' not in page.content.decode()
    assert browser.get("/admin/itsm/apitoken/add/").status_code == 403
    assert browser.get("/admin/authtoken/tokenproxy/").status_code == 404
    browser.post(f"/admin/itsm/apitoken/{token.pk}/delete/", {"post": "yes"})
    assert not ApiToken.objects.exists()


def test_drf_create_token_prints_the_contract_line_and_stores_a_hash(reader):
    out = io.StringIO()
    call_command("drf_create_token", "reader", stdout=out)
    line = out.getvalue().strip()
    assert line.startswith("Generated token ") and line.endswith(" for user reader")
    key = line.split()[2]
    assert len(key) == 40
    assert ApiToken.objects.get(user=reader).key_hash == tokens.hash_key(key)
    assert not Token.objects.exists()
    assert token_client(key).get(CIS).status_code == 200
    out = io.StringIO()
    call_command("drf_create_token", "reader", "--reset", stdout=out)
    assert token_client(key).get(CIS).status_code == 401  # --reset revoked the old one
    assert ApiToken.objects.filter(user=reader).count() == 1


def test_drf_create_token_for_an_unknown_user_fails_cleanly():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="does not exist"):
        call_command("drf_create_token", "nobody-here")


def test_a_clear_text_drf_token_keeps_working_after_the_migration(reader):
    """The data migration hashes authtoken_token keys into ApiToken and deletes the clear text."""
    old = Token.objects.create(user=reader)
    migration = importlib.import_module("itsm.migrations.0003_api_tokens")
    migration.hash_existing_tokens(global_apps, None)
    assert not Token.objects.exists()
    migrated = ApiToken.objects.get(user=reader)
    assert migrated.key_hash == tokens.hash_key(old.key) and migrated.prefix == old.key[:8]
    assert token_client(old.key).get(CIS).status_code == 200


@pytest.mark.parametrize(
    "change",
    [{"is_active": False}, {"password": "md5$changed$0123456789abcdef0123456789abcdef"}],
    ids=["deactivated", "password-changed"],
)
def test_a_session_ends_when_the_user_changes_in_the_database(reader, settings, change):
    """Item 9, browser side: no signal is sent, the next page asks for a login."""
    settings.SHARED_CACHE = True
    browser = Client()
    browser.force_login(reader)
    assert browser.get("/").status_code == 200
    get_user_model().objects.filter(pk=reader.pk).update(**change)
    response = browser.get("/")
    assert response.status_code == 302 and "/login/" in response["Location"]
