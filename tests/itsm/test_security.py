"""Security baseline: login throttling, session rotation, CSRF, headers, deploy checks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def login(client, username, password, **extra):
    return client.post("/login/", {"username": username, "password": password}, **extra)


def test_login_works_and_rotates_the_session_key(make_user):
    make_user("Read Only", username="alice", password="Correct-horse-1")
    client = Client()
    client.get("/login/")
    client.session.save()
    before = client.session.session_key
    response = login(client, "alice", "Correct-horse-1")
    assert response.status_code == 302
    assert client.session.session_key != before
    assert client.get("/").status_code == 200


def test_repeated_failures_lock_out_and_forged_forwarded_for_does_not_help(make_user, settings):
    make_user("Read Only", username="bob", password="Correct-horse-1")
    client = Client()
    for attempt in range(settings.AXES_FAILURE_LIMIT - 1):
        response = login(client, "bob", "wrong", HTTP_X_FORWARDED_FOR=f"10.0.0.{attempt}")
        assert response.status_code == 200  # form shown again with an error
    assert login(client, "bob", "wrong", HTTP_X_FORWARDED_FOR="10.0.1.1").status_code == 429
    # The limit is reached: the right password from a "new" forged address is refused too.
    locked = login(client, "bob", "Correct-horse-1", HTTP_X_FORWARDED_FOR="10.9.9.9")
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_account_is_protected_from_many_addresses_too(make_user, settings):
    make_user("Read Only", username="carol", password="Correct-horse-1")
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        login(Client(REMOTE_ADDR=f"192.0.2.{attempt}"), "carol", "wrong")
    assert login(Client(REMOTE_ADDR="192.0.2.200"), "carol", "Correct-horse-1").status_code == 429


def test_session_writes_need_csrf(make_user):
    user = make_user("CMDB Manager")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post("/cmdb/cis/new/", {"name": "x"})
    assert response.status_code == 403
    from rest_framework.test import APIClient

    api = APIClient(enforce_csrf_checks=True)
    api.force_login(user)
    response = api.post("/api/v1/cmdb/cis/", {"name": "x", "ci_type": "server"}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_security_headers(client):
    response = client.get("/login/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    csp = response["Content-Security-Policy"]
    assert (
        "default-src 'self'" in csp
        and "script-src 'self'" in csp
        and "frame-ancestors 'none'" in csp
    )


def test_health_check_is_public(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DEBUG": "0",
        "SECRET_KEY": "x" * 20 + "production-like-secret-key-0123456789-ABCDEFGHIJ",
        "ALLOWED_HOSTS": "itsm.example.org",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=120
    )


def test_production_settings_refuse_to_start_without_secret_key():
    production = {"DEBUG": "0", "SECRET_KEY": "", "ALLOWED_HOSTS": "x"}
    result = _run([sys.executable, "manage.py", "check", "--deploy"], **production)
    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr
    worker = _run(
        [str(Path(sys.executable).with_name("celery")), "-A", "itsm", "worker", "--pool", "solo"],
        CELERY_BROKER_URL="memory://",
        **production,
    )
    assert worker.returncode != 0
    assert "SECRET_KEY is required" in worker.stderr
    for entry_point in ("itsm.wsgi", "itsm.asgi"):
        served = _run([sys.executable, "-c", f"import {entry_point}"], **production)
        assert served.returncode != 0, entry_point
        assert "SECRET_KEY is required" in served.stderr


def test_build_commands_run_on_a_fresh_clone_with_nothing_set():
    """makemigrations --check needs no SECRET_KEY, DEBUG or ALLOWED_HOSTS."""
    bare = {
        k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS")
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "makemigrations", "--check", "--dry-run"],
        cwd=ROOT,
        env=bare,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No changes detected" in result.stdout
