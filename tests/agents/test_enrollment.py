"""Enrolment with one-time tokens, approval, revocation, key rotation, and who may do what."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command

from agents.choices import AgentStatus
from agents.models import Agent, EnrollmentToken, SecurityEvent
from agents.services import rotation_message
from itsm import roles
from tests.agents.conftest import SignedAgent, native_report, public_b64

pytestmark = pytest.mark.django_db

TOKENS = "/api/v1/agents/enrollment-tokens/"
ENROLL = "/api/v1/agents/enroll/"


def new_token(api, **body):
    response = api.post(TOKENS, body, format="json")
    assert response.status_code == 201, response.content
    return response.json()["token"]


def enroll(client, token, key=None, name="host-1"):
    key = key or Ed25519PrivateKey.generate()
    body = {"enrollment_token": token, "name": name, "public_key": public_b64(key)}
    return client.post(ENROLL, body, content_type="application/json"), key


def test_token_is_one_time_and_lands_pending(manager_api, client):
    token = new_token(manager_api, expires_in_hours=1)
    assert EnrollmentToken.objects.get().token_hash != token  # only the hash is stored
    response, _ = enroll(client, token)
    assert response.status_code == 201
    assert response.json()["status"] == "pending"
    again, _ = enroll(client, token, name="host-2")
    assert again.status_code == 401
    assert Agent.objects.count() == 1
    assert SecurityEvent.objects.get().reason == "enrollment"


def test_auto_approve_token_lands_active_and_can_report(manager_api, client):
    token = new_token(manager_api, auto_approve=True)
    response, key = enroll(client, token)
    assert response.json()["status"] == "active"
    agent = Agent.objects.get(key_id=response.json()["key_id"])
    assert SignedAgent(agent, key).post(client, native_report()).status_code == 202


def test_expired_or_unknown_token_is_refused(manager_api, client):
    token = new_token(manager_api, expires_in_hours=1)
    EnrollmentToken.objects.update(expires="2000-01-01T00:00:00Z")
    assert enroll(client, token)[0].status_code == 401
    assert enroll(client, "enr_made_up")[0].status_code == 401
    assert Agent.objects.count() == 0


def test_bad_public_key_is_400(manager_api, client):
    token = new_token(manager_api)
    response = client.post(
        ENROLL,
        {"enrollment_token": token, "name": "x", "public_key": base64.b64encode(b"short").decode()},
        content_type="application/json",
    )
    assert response.status_code == 400 and "public_key" in response.json()
    assert not EnrollmentToken.objects.filter(used_at__isnull=False).exists()


def test_pending_agent_is_approved_then_revoked(manager_api, client):
    token = new_token(manager_api)
    _, key = enroll(client, token)
    agent = Agent.objects.get()
    signed = SignedAgent(agent, key)
    assert signed.post(client, native_report()).status_code == 401
    assert manager_api.post(f"/api/v1/agents/{agent.pk}/approve/").json()["status"] == "active"
    assert signed.post(client, native_report()).status_code == 202
    assert manager_api.post(f"/api/v1/agents/{agent.pk}/revoke/").json()["status"] == "revoked"
    assert signed.post(client, native_report()).status_code == 401
    refused = manager_api.post(f"/api/v1/agents/{agent.pk}/approve/")
    assert refused.status_code == 400  # revoked is final


def test_only_cmdb_managers_enrol_and_revoke(make_user, client):
    from rest_framework.test import APIClient

    for role in [roles.READ_ONLY, roles.SERVICE_DESK, roles.CHANGE_MANAGER]:
        api = APIClient()
        api.force_authenticate(make_user(role))
        assert api.post(TOKENS, {}, format="json").status_code == 403
        assert api.get(TOKENS).status_code == 403
        assert api.get("/api/v1/agents/").status_code == 200
    agent = Agent.objects.create(
        key_id="agt_x", name="x", public_key="A" * 43 + "=", status=AgentStatus.ACTIVE
    )
    api = APIClient()
    api.force_authenticate(make_user(roles.READ_ONLY))
    assert api.post(f"/api/v1/agents/{agent.pk}/revoke/").status_code == 403
    assert api.get("/api/v1/agents/security-log/").status_code == 403
    agent.refresh_from_db()
    assert agent.status == AgentStatus.ACTIVE
    assert EnrollmentToken.objects.count() == 0


def test_manage_py_creates_a_token(cmdb_manager, capsys):
    call_command(
        "create_enrollment_token", "--user", cmdb_manager.username, "--hours", "2", "--auto-approve"
    )
    out = capsys.readouterr().out
    assert "enr_" in out
    assert EnrollmentToken.objects.get().auto_approve is True


def test_key_rotation(manager_api, client):
    token = new_token(manager_api, auto_approve=True)
    _, old_key = enroll(client, token)
    agent = Agent.objects.get()
    old = SignedAgent(agent, old_key)
    new_key = Ed25519PrivateKey.generate()
    new_public = public_b64(new_key)
    proof = base64.b64encode(new_key.sign(rotation_message(agent.key_id, new_public))).decode()

    bad_proof = base64.b64encode(old_key.sign(rotation_message(agent.key_id, new_public))).decode()
    refused = old.post(
        client, {"public_key": new_public, "proof": bad_proof}, path="/api/v1/agents/rotate-key/"
    )
    assert refused.status_code == 400
    agent.refresh_from_db()
    assert agent.public_key == public_b64(old_key)

    rotated = old.post(
        client, {"public_key": new_public, "proof": proof}, path="/api/v1/agents/rotate-key/"
    )
    assert rotated.status_code == 200, rotated.content
    agent.refresh_from_db()
    assert agent.public_key == new_public and agent.key_rotated_at
    assert old.post(client, native_report()).status_code == 401
    assert SignedAgent(agent, new_key).post(client, native_report()).status_code == 202


def test_enrolment_is_throttled(manager_api, client, settings):
    from rest_framework.settings import api_settings

    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "enroll": "3/hour"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    from agents.api.views import EnrollThrottle

    EnrollThrottle.THROTTLE_RATES = rates
    try:
        statuses = [enroll(client, "enr_nothing", name=f"h{i}")[0].status_code for i in range(5)]
    finally:
        EnrollThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    assert statuses[:3] == [401, 401, 401]
    assert statuses[3:] == [429, 429]


def test_agents_list_shows_last_contact(manager_api, client):
    token = new_token(manager_api, auto_approve=True)
    _, key = enroll(client, token)
    agent = Agent.objects.get()
    SignedAgent(agent, key).get(client)
    listed = manager_api.get("/api/v1/agents/").json()["results"][0]
    assert listed["key_id"] == agent.key_id and listed["last_seen"]
    assert set(listed) >= {"key_id", "name", "public_key", "status", "last_seen", "policy"}
    assert json.loads(json.dumps(listed))["policy"] == "Default"


def test_an_enrolment_token_is_made_by_a_person(db):
    from agents.enrolment import enrollment_token_create
    from agents.models import EnrollmentToken
    from cmdb.history import ChangeContext
    from itsm.exceptions import ApplicationError

    with pytest.raises(ApplicationError):
        enrollment_token_create(context=ChangeContext(actor=None, source="system"))
    assert not EnrollmentToken.objects.exists()
