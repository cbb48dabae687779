"""Collection policies are written by agents.policies: version check on the API as on the page,
and a policy still in use cannot be deleted (409 naming what uses it)."""

from __future__ import annotations

import pytest

from agents.models import AgentGroup
from agents.policies import policy_version
from itsm.audit import entries_for
from tests.agents.conftest import make_agent

pytestmark = pytest.mark.django_db

POLICIES = "/api/v1/agents/policies/"


def test_create_read_and_update_with_the_version(manager_api):
    response = manager_api.post(POLICIES, {"name": "Servers", "interval_seconds": 600})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["version"] == policy_version(AgentGroup.objects.get(name="Servers"))
    group = AgentGroup.objects.get(name="Servers")
    assert [e.kind for e in entries_for(group)] == ["created"]
    assert entries_for(group).get().actor == manager_api.user
    url = f"{POLICIES}{body['id']}/"
    response = manager_api.patch(url, {"interval_seconds": 900, "version": body["version"]})
    assert response.status_code == 200, response.content
    assert response.json()["interval_seconds"] == 900
    assert response.json()["version"] != body["version"]
    changed = entries_for(group).first()
    assert changed.kind == "changed"
    assert changed.changes["interval_seconds"] == {"old": 600, "new": 900}


def test_a_stale_or_missing_version_is_refused(manager_api):
    group = AgentGroup.objects.create(name="Servers")
    url = f"{POLICIES}{group.pk}/"
    read = manager_api.get(url).json()
    AgentGroup.objects.filter(pk=group.pk).update(interval_seconds=1200)  # someone else
    response = manager_api.patch(url, {"interval_seconds": 900, "version": read["version"]})
    assert response.status_code == 409
    assert response.json()["version"] == policy_version(AgentGroup.objects.get(pk=group.pk))
    assert AgentGroup.objects.get(pk=group.pk).interval_seconds == 1200
    response = manager_api.patch(url, {"interval_seconds": 900})
    assert response.status_code == 400 and "version" in response.json()


def test_the_page_and_the_api_share_the_version(client, cmdb_manager):
    group = AgentGroup.objects.create(name="Servers")
    client.force_login(cmdb_manager)
    page = client.get(f"/agents/policies/{group.pk}/edit/")
    assert page.status_code == 200
    assert policy_version(group) in page.content.decode()


def test_deleting_a_policy_in_use_answers_409_naming_the_users(manager_api):
    agent = make_agent(name="web-01")
    group = AgentGroup.objects.create(name="Servers")
    agent.agent.group = group
    agent.agent.save()
    response = manager_api.delete(f"{POLICIES}{group.pk}/")
    assert response.status_code == 409, response.content
    used = response.json()["used_by"]
    assert used["agent_count"] == 1 and used["agents"][0]["name"] == "web-01"
    assert AgentGroup.objects.filter(pk=group.pk).exists()


def test_deleting_a_policy_named_by_an_enrolment_token_answers_409(manager_api):
    group = AgentGroup.objects.create(name="Laptops")
    response = manager_api.post(
        "/api/v1/agents/enrollment-tokens/",
        {"expires_in_hours": 1, "auto_approve": False, "policy": "Laptops"},
    )
    assert response.status_code == 201, response.content
    response = manager_api.delete(f"{POLICIES}{group.pk}/")
    assert response.status_code == 409
    assert response.json()["used_by"]["enrollment_token_count"] == 1


def test_deleting_an_unused_policy_works(manager_api):
    group = AgentGroup.objects.create(name="Unused")
    assert manager_api.delete(f"{POLICIES}{group.pk}/").status_code == 204
    assert not AgentGroup.objects.filter(pk=group.pk).exists()


def test_read_only_users_cannot_write_policies(readonly_api):
    group = AgentGroup.objects.create(name="Servers")
    assert readonly_api.delete(f"{POLICIES}{group.pk}/").status_code == 403
    assert readonly_api.post(POLICIES, {"name": "X"}).status_code == 403
