"""Redis down: the site keeps working on the database, and /readyz says why it is not ready
(issue 7, item 5). The cache points at a closed port."""

from __future__ import annotations

import logging
import os

import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from itsm import caching, redis_cache, tokens

pytestmark = pytest.mark.django_db

CIS = "/api/v1/cmdb/cis/"
DEAD_REDIS = "redis://127.0.0.1:1/0"


def redis_cache_settings(location: str, **options) -> dict:
    return {
        "default": {
            "BACKEND": "itsm.redis_cache.FallbackRedisCache",
            "LOCATION": location,
            "KEY_PREFIX": f"outage{os.getpid()}",
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 0.5,
                "ON_RECOVERY": "itsm.caching.forget_generations",
                **options,
            },
        }
    }


@pytest.fixture
def redis_down(settings):
    redis_cache._health.clear()
    settings.SHARED_CACHE = True
    settings.CACHES = redis_cache_settings(DEAD_REDIS)
    yield
    redis_cache._health.clear()


def test_login_session_pages_and_token_calls_work_without_redis(redis_down, make_user, caplog):
    user = make_user("Read Only", username="dora", password="Correct-horse-1")
    key, _ = tokens.api_token_create(actor=user, user=user, name="t")
    browser = Client()
    with caplog.at_level(logging.ERROR, logger="itsm.cache"):
        login = browser.post("/login/", {"username": "dora", "password": "Correct-horse-1"})
        assert login.status_code == 302, login.content[:300]
        assert browser.get("/").status_code == 200  # a page of the existing session
        assert browser.get("/cmdb/cis/").status_code == 200
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        assert api.get(CIS).status_code == 200
        assert api.get(CIS).status_code == 200
    # Logged once per outage, and counted.
    assert sum("Redis cache unreachable" in r.getMessage() for r in caplog.records) == 1
    assert cache.degraded and not caching.enabled()
    stats = cache.stats()
    assert stats["outages"] == 1 and stats["fallback_calls"] > 0


def test_failed_logins_still_lock_out_without_redis(redis_down, make_user, settings):
    make_user("Read Only", username="eve", password="Correct-horse-1")
    browser = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert browser.post("/login/", {"username": "eve", "password": "x"}).status_code == 200
    assert browser.post("/login/", {"username": "eve", "password": "x"}).status_code == 429


def test_throttles_keep_counting_without_redis(redis_down, client, monkeypatch):
    from agents.api.views import EnrollThrottle

    monkeypatch.setattr(EnrollThrottle, "THROTTLE_RATES", {"enroll": "2/hour"})
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from tests.agents.conftest import public_b64

    key = public_b64(Ed25519PrivateKey.generate())
    body = {"enrollment_token": "enr_nope", "name": "h", "public_key": key}
    statuses = [
        client.post("/api/v1/agents/enroll/", body, content_type="application/json").status_code
        for _ in range(3)
    ]
    assert 500 not in statuses and statuses[-1] == 429


def test_readyz_names_the_cache_and_healthz_stays_up(redis_down, client):
    ready = client.get("/readyz")
    assert ready.status_code == 503
    body = ready.json()
    assert body["failing"] == ["cache"]
    assert body["checks"]["cache"]["status"] == "error"
    assert body["checks"]["database"]["status"] == "ok"
    assert "127.0.0.1" not in ready.content.decode()  # no addresses or credentials
    assert client.get("/healthz").status_code == 200
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_is_200_when_everything_answers(client, settings):
    settings.CELERY_BROKER_URL = ""
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    checks = response.json()["checks"]
    assert checks["database"]["status"] == "ok" and checks["cache"]["status"] == "ok"
    assert checks["broker"]["status"] == "not configured"


def test_readyz_names_an_unreachable_broker(client, settings, monkeypatch):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    # Celery reads the environment before its configuration (as CI sets it).
    monkeypatch.setenv("CELERY_BROKER_URL", settings.CELERY_BROKER_URL)
    from itsm.celery import app

    previous = app.conf.broker_url
    app.conf.broker_url = settings.CELERY_BROKER_URL
    try:
        response = client.get("/readyz")
    finally:
        app.conf.broker_url = previous
    assert response.status_code == 503
    assert response.json()["failing"] == ["broker"]


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs a real Redis")
def test_generations_restart_when_redis_comes_back(settings):
    """Bumps made during an outage are lost; on recovery the counters restart, so nothing
    cached before the outage is served afterwards."""
    redis_cache._health.clear()
    settings.SHARED_CACHE = True
    settings.CACHES = redis_cache_settings(os.environ["REDIS_URL"])
    before = caching.generation("cmdb")
    cache.health.down_until = 1.0  # an outage that just ended (monotonic time long past)
    cache.get("anything")  # first call after it reaches Redis: recovery
    assert not cache.degraded
    assert caching.generation("cmdb") != before
    redis_cache._health.clear()


def test_expired_sessions_are_cleared_daily(make_user):
    import datetime as dt

    from django.contrib.sessions.models import Session
    from django.utils import timezone

    from itsm.celery import app
    from itsm.tasks import clear_expired_sessions

    browser = Client()
    browser.force_login(make_user("Read Only"))
    Session.objects.create(
        session_key="x" * 32, session_data="", expire_date=timezone.now() - dt.timedelta(days=1)
    )
    clear_expired_sessions.delay()
    assert list(Session.objects.values_list("session_key", flat=True)) == [
        browser.session.session_key
    ]
    schedule = app.conf.beat_schedule["itsm-clear-expired-sessions"]
    assert schedule["task"] == "itsm.clear_expired_sessions"
