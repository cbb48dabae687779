"""Client addresses behind a proxy (issue 7, item 6): a forwarded address is believed only
from a configured proxy, and lockouts, throttles and enrolment use it."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.test import Client, RequestFactory

from itsm.client_ip import client_ip
from tests.agents.conftest import public_b64

PROXY = "172.28.0.10"


def ip_of(remote: str, **headers) -> str | None:
    return client_ip(RequestFactory().get("/", REMOTE_ADDR=remote, **headers))


def test_nobody_is_trusted_by_default(settings):
    settings.TRUSTED_PROXIES = []
    assert ip_of("198.51.100.7", HTTP_X_FORWARDED_FOR="10.1.1.1") == "198.51.100.7"
    assert ip_of("198.51.100.7", HTTP_X_REAL_IP="10.1.1.1") == "198.51.100.7"


def test_a_trusted_proxy_names_the_client(settings):
    settings.TRUSTED_PROXIES = [PROXY, "10.200.0.0/16"]
    assert ip_of(PROXY, HTTP_X_FORWARDED_FOR="203.0.113.5") == "203.0.113.5"
    assert ip_of(PROXY, HTTP_X_REAL_IP="203.0.113.6") == "203.0.113.6"
    # The client's own (forged) entries are left of what our proxies appended: ignored.
    forged = "1.2.3.4, 203.0.113.5, 10.200.3.3"
    assert ip_of(PROXY, HTTP_X_FORWARDED_FOR=forged) == "203.0.113.5"
    assert ip_of(PROXY, HTTP_X_FORWARDED_FOR="garbage, 203.0.113.9") == "203.0.113.9"
    assert ip_of(PROXY, HTTP_X_FORWARDED_FOR="not-an-address") == PROXY
    assert ip_of(PROXY) == PROXY  # no header: the proxy itself
    assert ip_of("::ffff:172.28.0.10", HTTP_X_FORWARDED_FOR="2001:db8::1") == ("2001:db8::1")


def login(client, username, password, **extra):
    return client.post("/login/", {"username": username, "password": password}, **extra)


@pytest.mark.django_db
def test_spoofed_forwarded_for_from_an_untrusted_client_is_ignored(make_user, settings):
    settings.TRUSTED_PROXIES = [PROXY]
    make_user("Read Only", username="frank", password="Correct-horse-1")
    make_user("Read Only", username="gina", password="Correct-horse-1")
    attacker = Client(REMOTE_ADDR="198.51.100.66")
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        login(attacker, "frank", "wrong", HTTP_X_FORWARDED_FOR=f"10.0.0.{attempt}")
    # The lockout hit the real address: another account from it is refused too.
    refused = login(attacker, "gina", "Correct-horse-1", HTTP_X_FORWARDED_FOR="10.9.9.9")
    assert refused.status_code == 429
    assert login(Client(REMOTE_ADDR="198.51.100.67"), "gina", "Correct-horse-1").status_code == 302


@pytest.mark.django_db
def test_behind_a_trusted_proxy_one_client_does_not_lock_out_another(make_user, settings):
    settings.TRUSTED_PROXIES = [PROXY]
    make_user("Read Only", username="hank", password="Correct-horse-1")
    make_user("Read Only", username="ines", password="Correct-horse-1")
    via_proxy = Client(REMOTE_ADDR=PROXY)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(via_proxy, "hank", "wrong", HTTP_X_FORWARDED_FOR="203.0.113.1")
    # Client A is locked out (any account) ...
    assert login(via_proxy, "ines", "wrong", HTTP_X_FORWARDED_FOR="203.0.113.1").status_code == 429
    # ... client B, through the same proxy, logs in.
    ok = login(
        Client(REMOTE_ADDR=PROXY), "ines", "Correct-horse-1", HTTP_X_FORWARDED_FOR="203.0.113.2"
    )
    assert ok.status_code == 302


# --- enrolment: failures are throttled, successes are not --------------------------------


def enroll(client, token, **extra):
    body = {
        "enrollment_token": token,
        "name": "host",
        "public_key": public_b64(Ed25519PrivateKey.generate()),
    }
    return client.post(
        "/api/v1/agents/enroll/", body, content_type="application/json", **extra
    ).status_code


@pytest.fixture
def low_enroll_rate(monkeypatch):
    from agents.api.views import EnrollThrottle

    monkeypatch.setattr(EnrollThrottle, "THROTTLE_RATES", {"enroll": "3/hour"})


@pytest.mark.django_db
def test_many_successful_enrolments_from_one_address_are_not_throttled(
    manager_api, client, low_enroll_rate
):
    from agents import services
    from cmdb.history import ChangeContext

    context = ChangeContext(actor=manager_api.user)
    secrets = [services.enrollment_token_create(context=context)[0] for _ in range(50)]
    statuses = [enroll(client, secret, REMOTE_ADDR="192.0.2.50") for secret in secrets]
    assert statuses == [201] * 50
    # Failures from that address are still counted and throttled.
    failures = [enroll(client, "enr_guess", REMOTE_ADDR="192.0.2.50") for _ in range(4)]
    assert failures == [401, 401, 401, 429]


@pytest.mark.django_db
def test_failed_enrolments_are_throttled_per_client_behind_the_proxy(
    manager_api, client, low_enroll_rate, settings
):
    settings.TRUSTED_PROXIES = [PROXY]
    guesses = [
        enroll(client, "enr_guess", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.1")
        for _ in range(4)
    ]
    assert guesses == [401, 401, 401, 429]
    # Another machine behind the same proxy is not blocked by the guesser.
    from agents import services
    from cmdb.history import ChangeContext

    secret, _ = services.enrollment_token_create(context=ChangeContext(actor=manager_api.user))
    assert enroll(client, secret, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.2") == 201
    # A client forging the header without the proxy is counted under its own address.
    forged = [
        enroll(client, "enr_guess", REMOTE_ADDR="198.51.100.9", HTTP_X_FORWARDED_FOR=f"10.0.0.{i}")
        for i in range(4)
    ]
    assert forged == [401, 401, 401, 429]
