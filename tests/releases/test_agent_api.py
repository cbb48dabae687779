"""The agent executor's signed endpoints, in process: what is refused (unsigned, another
machine's step, an old attempt, a bad body, an artifact the agent has no step for) answers 4xx
and writes nothing; what is accepted moves the step."""

from __future__ import annotations

import pytest

from agents.models import Agent
from cmdb.models import ConfigurationItem
from releases import services
from releases.choices import StepState
from releases.engine.advance import advance
from releases.models import DeploymentStep
from tests.agents.conftest import make_agent
from tests.releases.conftest import ctx, make_release

pytestmark = pytest.mark.django_db

STEPS = "/api/v1/agents/deployments/"
ONE_WAVE = [{"name": "All", "selector": {}, "gate": {"kind": "automatic"}}]


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def setup(make_cis, make_user):
    """An agent bound to one of two target CIs, a deployment with the agent executor."""
    from itsm import roles

    first, second = make_cis(2)
    release = make_release(wave_plan=ONE_WAVE)
    artifact = release.package.artifacts.get()
    deployment = services.deployment_start(
        context=ctx(make_user(roles.RELEASE_MANAGER)), release_id=release.pk, executor="agent"
    )
    advance(deployment.pk)
    mine, other = make_agent(name="mine"), make_agent(name="other")
    Agent.objects.filter(pk=mine.agent.pk).update(ci=first)
    Agent.objects.filter(pk=other.agent.pk).update(ci=second)
    mine.agent.refresh_from_db()
    other.agent.refresh_from_db()
    return {"mine": mine, "other": other, "ci": first, "artifact": artifact, "release": release}


def result_path(step) -> str:
    return f"{STEPS}{step['id'] if isinstance(step, dict) else step.pk}/result/"


def test_an_unsigned_request_is_refused(client, setup):
    assert client.get(STEPS).status_code == 401
    assert not DeploymentStep.objects.exclude(state=StepState.PENDING).exists()


def test_an_unbound_agent_gets_nothing(client, setup):
    loose = make_agent(name="loose")
    answer = loose.get(client, STEPS)
    assert answer.status_code == 200 and answer.json()["steps"] == []


def test_the_agent_claims_its_step_with_the_artifacts_and_posts_the_result(client, setup):
    mine, artifact = setup["mine"], setup["artifact"]
    answer = mine.get(client, STEPS)
    assert answer.status_code == 200
    (step,) = answer.json()["steps"]  # the next step of its one target, nothing of the other
    assert step["release"] == setup["release"].number and step["attempt"] == 1
    assert [a["sha256"] for a in step["artifacts"]] == [artifact.sha256]
    claimed = DeploymentStep.objects.get(pk=step["id"])
    assert claimed.state == StepState.CLAIMED and claimed.target.ci_id == setup["ci"].pk
    assert claimed.lease_owner == f"agent:{mine.agent.key_id}"
    # Its artifact: the stored bytes, streamed.
    download = mine.get(client, step["artifacts"][0]["url"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content).startswith(b"package bytes")
    # Nothing more until the result is in (one step per target at a time).
    assert mine.get(client, STEPS).json()["steps"] == []
    body = {"attempt": 1, "ok": True, "outcome": "skipped", "log": "already there"}
    done = mine.post(client, body, path=result_path(step))
    assert done.status_code == 200 and done.json()["state"] == StepState.SKIPPED
    assert mine.get(client, STEPS).json()["steps"][0]["order"] == 2


def test_refused_results_write_nothing(client, setup):
    mine, other = setup["mine"], setup["other"]
    step = mine.get(client, STEPS).json()["steps"][0]
    path = result_path(step)
    # Another machine's agent.
    assert other.post(client, {"attempt": 1, "ok": True}, path=path).status_code == 403
    # An old (or future) attempt.
    assert mine.post(client, {"attempt": 2, "ok": True}, path=path).status_code == 409
    # A body that fails the schema.
    assert mine.post(client, {"attempt": "x"}, path=path).status_code == 400
    assert (
        mine.post(client, {"attempt": 1, "ok": True, "outcome": "won"}, path=path).status_code
        == 400
    )
    # A step that does not exist.
    assert (
        mine.post(client, {"attempt": 1, "ok": True}, path=f"{STEPS}999999/result/").status_code
        == 404
    )
    claimed = DeploymentStep.objects.get(pk=step["id"])
    assert claimed.state == StepState.CLAIMED and claimed.log == ""
    # The right one is then accepted, once.
    assert mine.post(client, {"attempt": 1, "ok": True}, path=path).status_code == 200
    assert mine.post(client, {"attempt": 1, "ok": True}, path=path).status_code == 409


def test_an_agent_gets_no_artifact_it_has_no_step_for(client, setup):
    loose = make_agent(name="loose")
    Agent.objects.filter(pk=loose.agent.pk).update(
        ci=ConfigurationItem.objects.create(name="elsewhere", ci_type=setup["ci"].ci_type)
    )
    path = f"{STEPS}artifacts/{setup['artifact'].pk}/"
    assert loose.get(client, path).status_code == 404
    assert client.get(path).status_code == 401
