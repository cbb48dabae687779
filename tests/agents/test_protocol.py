"""The signed report endpoint: one test vector per rejection, and what an accepted report does.

Every rejection must answer the right status and write nothing but a security log entry.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json

import pytest

from agents.choices import AgentStatus
from agents.models import InventoryReport, Nonce, SecurityEvent
from cmdb.models import ConfigurationItem
from tests.agents.conftest import POLICY, REPORTS, as_meta, make_agent, native_report

pytestmark = pytest.mark.django_db


def assert_nothing_written(reason: str | None = None):
    assert InventoryReport.objects.count() == 0
    assert Nonce.objects.count() == 0
    assert ConfigurationItem.objects.count() == 0
    if reason:
        assert list(SecurityEvent.objects.values_list("reason", flat=True)) == [reason]


def body_of(document) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def test_accepted_report_is_stored_and_processed(client, signed_agent):
    document = native_report()  # once: its collected_at is the current second
    response = signed_agent.post(client, document)
    assert response.status_code == 202, response.content
    report = InventoryReport.objects.get(pk=response.json()["report_id"])
    sent = body_of(document)
    assert bytes(report.body) == sent
    assert report.size == len(sent)
    assert report.sha256 == hashlib.sha256(sent).hexdigest()
    assert report.status == "processed"  # tasks are eager in tests
    ci = ConfigurationItem.objects.get()
    assert ci.hostname == "web-01.example.org"
    assert SecurityEvent.objects.count() == 0


def test_tampered_body(client, signed_agent):
    body = body_of(native_report())
    headers = signed_agent.headers("POST", REPORTS, body)
    tampered = body.replace(b"web-01", b"evil-1")
    response = client.generic(
        "POST", REPORTS, data=tampered, content_type="application/json", **as_meta(headers)
    )
    assert response.status_code == 401
    assert_nothing_written("digest")


def test_tampered_signature(client, signed_agent):
    body = body_of(native_report())
    headers = signed_agent.headers("POST", REPORTS, body)
    raw = bytearray(base64.b64decode(headers["Signature"].split(":")[1]))
    raw[0] ^= 0xFF
    headers["Signature"] = f"sig1=:{base64.b64encode(bytes(raw)).decode()}:"
    response = client.generic(
        "POST", REPORTS, data=body, content_type="application/json", **as_meta(headers)
    )
    assert response.status_code == 401
    assert_nothing_written("bad_signature")


def test_wrong_key(client, signed_agent):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    other = Ed25519PrivateKey.generate()
    body = body_of(native_report())
    from tests.agents.conftest import sign

    headers = sign("POST", REPORTS, body, key=other, key_id=signed_agent.agent.key_id)
    response = client.generic(
        "POST", REPORTS, data=body, content_type="application/json", **as_meta(headers)
    )
    assert response.status_code == 401
    assert_nothing_written("bad_signature")


def test_unknown_key(client, signed_agent):
    body = body_of(native_report())
    from tests.agents.conftest import sign

    headers = sign("POST", REPORTS, body, key=signed_agent.key, key_id="agt_nobody")
    response = client.generic(
        "POST", REPORTS, data=body, content_type="application/json", **as_meta(headers)
    )
    assert response.status_code == 401
    assert_nothing_written("unknown_key")


@pytest.mark.parametrize(
    ("status", "reason"),
    [(AgentStatus.PENDING, "pending_key"), (AgentStatus.REVOKED, "revoked_key")],
)
def test_pending_and_revoked_keys(client, status, reason):
    agent = make_agent(status=status)
    response = agent.post(client, native_report())
    assert response.status_code == 401
    assert_nothing_written(reason)


@pytest.mark.parametrize("offset", [-301, 301, -3600, 86400])
def test_created_outside_the_window(client, signed_agent, offset):
    created = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=offset)
    response = signed_agent.post(client, native_report(), created=created)
    assert response.status_code == 401
    assert_nothing_written("clock")


def test_created_within_the_window_is_accepted(client, signed_agent):
    created = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=200)
    assert signed_agent.post(client, native_report(), created=created).status_code == 202


def test_replayed_nonce(client, signed_agent):
    body = body_of(native_report())
    headers = signed_agent.headers("POST", REPORTS, body)
    first = client.generic(
        "POST", REPORTS, data=body, content_type="application/json", **as_meta(headers)
    )
    assert first.status_code == 202
    again = client.generic(
        "POST", REPORTS, data=body, content_type="application/json", **as_meta(headers)
    )
    assert again.status_code == 401
    assert InventoryReport.objects.count() == 1
    assert list(SecurityEvent.objects.values_list("reason", flat=True)) == ["replay"]


def test_short_nonce_is_refused(client, signed_agent):
    response = signed_agent.post(client, native_report(), nonce="abc")
    assert response.status_code == 401
    assert_nothing_written("malformed_signature")


def test_missing_digest(client, signed_agent):
    body = body_of(native_report())
    headers = signed_agent.headers("POST", REPORTS, body)
    headers.pop("Content-Digest")
    response = client.generic(
        "POST", REPORTS, data=body, content_type="application/json", **as_meta(headers)
    )
    assert response.status_code == 401
    assert_nothing_written("digest")


def test_wrong_digest(client, signed_agent):
    body = body_of(native_report())
    other = body_of({"format": "itsm-inventory/1"})
    from tests.agents.conftest import sign

    # A signature over a digest of another body: the signature verifies, the digest does not.
    headers = sign("POST", REPORTS, other, key=signed_agent.key, key_id=signed_agent.agent.key_id)
    response = client.generic(
        "POST", REPORTS, data=body, content_type="application/json", **as_meta(headers)
    )
    assert response.status_code == 401
    assert_nothing_written("digest")


def test_digest_not_covered(client, signed_agent):
    response = signed_agent.post(client, native_report(), components=("@method", "@path"))
    assert response.status_code == 401
    assert_nothing_written("coverage")


def test_path_not_covered(client, signed_agent):
    response = signed_agent.post(client, native_report(), components=("@method", "content-digest"))
    assert response.status_code == 401
    assert_nothing_written("coverage")


def test_signature_for_another_path(client, signed_agent):
    body = body_of(native_report())
    headers = signed_agent.headers("POST", "/api/v1/agents/rotate-key/", body)
    response = client.generic(
        "POST", REPORTS, data=body, content_type="application/json", **as_meta(headers)
    )
    assert response.status_code == 401
    assert_nothing_written("bad_signature")


def test_missing_signature_headers(client):
    response = client.generic("POST", REPORTS, data=b"{}", content_type="application/json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Signature")
    assert_nothing_written("malformed_signature")


def test_oversize_is_413_before_anything_else(client, signed_agent, settings):
    settings.AGENT_MAX_BODY_BYTES = 1000
    response = signed_agent.post(client, native_report(packages=100))
    assert response.status_code == 413
    assert_nothing_written("oversize")


def test_wrong_content_type(client, signed_agent):
    response = signed_agent.post(client, native_report(), content_type="text/plain")
    assert response.status_code == 415
    assert_nothing_written("content_type")


def test_invalid_json(client, signed_agent):
    response = signed_agent.post(client, body=b'{"format": "itsm-inventory/1", ')
    assert response.status_code == 400
    assert_nothing_written("invalid_json")


def test_deeply_nested_json_is_refused(client, signed_agent):
    document = native_report()
    nested: dict = {}
    cursor = nested
    for _ in range(100):
        cursor["x"] = {}
        cursor = cursor["x"]
    document["security"] = nested
    response = signed_agent.post(client, document)
    assert response.status_code == 400
    assert_nothing_written("schema")


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.pop("device"),
        lambda d: d.update(format="itsm-inventory/9"),
        lambda d: d["device"].update(memory_mb="lots"),
        lambda d: d.update(software=[{"version": "1.0"}]),
        lambda d: d.update(collected_at="yesterday"),
    ],
)
def test_schema_violation(client, signed_agent, mutate):
    document = native_report()
    mutate(document)
    response = signed_agent.post(client, document)
    assert response.status_code == 400
    assert_nothing_written("schema")


def test_signed_policy_get(client, signed_agent):
    response = signed_agent.get(client)
    assert response.status_code == 200
    assert response.json()["collect"]["software"] is True
    assert response.json()["interval_seconds"] == 3600
    unsigned = client.get(POLICY)
    assert unsigned.status_code == 401


def test_security_log_is_rate_limited(client, signed_agent):
    from agents.services import SECURITY_LOG_BURST

    for _ in range(SECURITY_LOG_BURST + 10):
        client.generic("POST", REPORTS, data=b"{}", content_type="application/json")
    assert SecurityEvent.objects.count() == SECURITY_LOG_BURST
