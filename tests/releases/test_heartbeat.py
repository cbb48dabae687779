"""Lease heartbeats of the agent executor: a signed `…/<step>/heartbeat/` extends the lease of
the agent's current attempt (the first one moves the step to running), so `advance` does not
mark a long step lost; another agent's step (403), an old attempt or a step not claimed or
running (409), a bad body (400) change nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from agents.models import Agent
from itsm.exceptions import ConflictError, PermissionDeniedError
from releases import services
from releases.choices import StepState, TargetState
from releases.engine.advance import advance
from releases.engine.leases import heartbeat_seconds, step_heartbeat
from releases.models import DeploymentEvent, DeploymentStep
from tests.agents.conftest import make_agent
from tests.releases.conftest import SYSTEM, make_release

pytestmark = pytest.mark.django_db

STEPS = "/api/v1/agents/deployments/"
ONE_WAVE = [{"name": "All", "selector": {}, "gate": {"kind": "automatic"}}]


@pytest.fixture
def setup(make_cis, settings):
    """Two agents, each bound to one target CI of a deployment with the agent executor."""
    settings.RELEASES_LEASE_SECONDS = 30
    first, second = make_cis(2)
    release = make_release(wave_plan=ONE_WAVE)
    deployment = services.deployment_start(context=SYSTEM, release_id=release.pk, executor="agent")
    advance(deployment.pk)
    mine, other = make_agent(name="mine"), make_agent(name="other")
    Agent.objects.filter(pk=mine.agent.pk).update(ci=first)
    Agent.objects.filter(pk=other.agent.pk).update(ci=second)
    mine.agent.refresh_from_db()
    other.agent.refresh_from_db()
    return {"mine": mine, "other": other, "deployment": deployment}


def heartbeat_path(step) -> str:
    return f"{STEPS}{step['id'] if isinstance(step, dict) else step.pk}/heartbeat/"


def expire(*steps) -> None:
    """The leases ran out (as if the lease's time had passed)."""
    DeploymentStep.objects.filter(pk__in=[s["id"] for s in steps]).update(
        lease_expires_at=timezone.now() - dt.timedelta(seconds=1)
    )


def snapshot(step_id: int) -> dict:
    return DeploymentStep.objects.values().get(pk=step_id)


def test_the_get_answer_says_how_often_to_send_a_heartbeat(client, setup):
    answer = setup["mine"].get(client, STEPS).json()
    assert answer["lease_seconds"] == 30 and answer["heartbeat_seconds"] == 10
    (step,) = answer["steps"]
    assert step["heartbeat_url"] == heartbeat_path(step)
    assert heartbeat_seconds() == 10


def test_a_heartbeat_extends_the_lease_and_logs_progress(client, setup):
    mine = setup["mine"]
    step = mine.get(client, STEPS).json()["steps"][0]
    claimed = DeploymentStep.objects.get(pk=step["id"])
    before = claimed.lease_expires_at
    answer = mine.post(
        client, {"attempt": 1, "progress": "unpacking 40%\nstill going"}, path=heartbeat_path(step)
    )
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["state"] == StepState.RUNNING and body["attempt"] == 1
    assert body["heartbeat_seconds"] == 10
    beaten = DeploymentStep.objects.get(pk=step["id"])
    assert beaten.state == StepState.RUNNING and beaten.lease_expires_at >= before
    assert beaten.log.endswith("progress] unpacking 40% still going")
    # The first heartbeat moved it to running (one event); later ones write no event.
    events = DeploymentEvent.objects.filter(object_type="step", object_id=step["id"])
    count = events.count()
    assert events.filter(to_state=StepState.RUNNING).count() == 1
    assert mine.post(client, {"attempt": 1}, path=heartbeat_path(step)).status_code == 200
    assert events.count() == count
    assert DeploymentStep.objects.get(pk=step["id"]).log == beaten.log  # no line: log kept
    # The result still lands, with the progress in the log before it.
    done = mine.post(
        client, {"attempt": 1, "ok": True, "log": "done"}, path=f"{STEPS}{step['id']}/result/"
    )
    assert done.status_code == 200
    finished = DeploymentStep.objects.get(pk=step["id"])
    assert finished.state == StepState.SUCCEEDED and finished.log.endswith("still going\ndone")
    # A heartbeat after the result: the step is finished, nothing to extend.
    late = mine.post(client, {"attempt": 1}, path=heartbeat_path(step))
    assert late.status_code == 409


def test_refused_heartbeats_change_nothing(client, setup):
    mine, other = setup["mine"], setup["other"]
    step = mine.get(client, STEPS).json()["steps"][0]
    path = heartbeat_path(step)
    before = snapshot(step["id"])
    # Another machine's agent.
    refused = other.post(client, {"attempt": 1}, path=path)
    assert refused.status_code == 403 and "not for this agent" in refused.json()["detail"]
    # An old (or future) attempt.
    stale = mine.post(client, {"attempt": 2}, path=path)
    assert stale.status_code == 409 and stale.json()["current_attempt"] == 1
    # Bodies that fail the schema.
    assert mine.post(client, {"attempt": 0}, path=path).status_code == 400
    assert mine.post(client, {"progress": "x"}, path=path).status_code == 400
    assert mine.post(client, {"attempt": 1, "progress": "x" * 10_001}, path=path).status_code == 400
    # Unsigned, or a step that does not exist.
    assert client.post(path, {"attempt": 1}, content_type="application/json").status_code == 401
    assert mine.post(client, {"attempt": 1}, path=f"{STEPS}999999/heartbeat/").status_code == 404
    assert snapshot(step["id"]) == before
    # A step not claimed yet (the target's second step is pending).
    pending = DeploymentStep.objects.get(target__ci=mine.agent.ci_id, order=2)
    assert mine.post(client, {"attempt": 1}, path=heartbeat_path(pending)).status_code == 409
    assert DeploymentStep.objects.get(pk=pending.pk).state == StepState.PENDING


def test_a_lease_held_by_another_owner_is_not_extended(setup):
    step = DeploymentStep.objects.get(target__ci=setup["mine"].agent.ci_id, order=1)
    from releases.engine.steps import step_claim_for_agent

    step_claim_for_agent(ci_id=step.target.ci_id, owner="agent:someone-else")
    with pytest.raises(PermissionDeniedError):
        step_heartbeat(step_id=step.pk, attempt=1, owner="agent:me", ci_id=step.target.ci_id)
    with pytest.raises(ConflictError):
        step_heartbeat(step_id=step.pk, attempt=2, owner="agent:someone-else")
    beat = step_heartbeat(step_id=step.pk, attempt=1, owner="agent:someone-else")
    assert beat.state == StepState.RUNNING


def test_a_step_with_heartbeats_is_not_lost_while_one_without_is(client, setup):
    mine, other = setup["mine"], setup["other"]
    alive = mine.get(client, STEPS).json()["steps"][0]
    silent = other.get(client, STEPS).json()["steps"][0]
    # Both leases ran out; only one agent sent a heartbeat since.
    expire(alive, silent)
    assert mine.post(client, {"attempt": 1}, path=heartbeat_path(alive)).status_code == 200
    advance(setup["deployment"].pk)
    kept = DeploymentStep.objects.get(pk=alive["id"])
    assert kept.state == StepState.RUNNING and kept.attempt == 1
    assert kept.target.state == TargetState.RUNNING
    lost = DeploymentStep.objects.get(pk=silent["id"])
    # Lost, and (idempotent) retried as attempt 2; the silent agent's attempt 1 is over.
    assert (lost.state, lost.attempt) == (StepState.PENDING, 2)
    assert DeploymentEvent.objects.filter(
        object_type="step", object_id=silent["id"], to_state=StepState.LOST
    ).exists()
    assert other.post(client, {"attempt": 1}, path=heartbeat_path(silent)).status_code == 409
    # The living one finishes normally.
    result = {"attempt": 1, "ok": True, "log": "installed"}
    assert mine.post(client, result, path=f"{STEPS}{alive['id']}/result/").status_code == 200


def test_a_heartbeat_racing_advance_wins_or_loses_cleanly(setup):
    """`advance` read the step as expired; a heartbeat lands before it moves it: the move
    (conditioned on the version it read) does nothing, and the step stays running."""
    from releases.engine.steps import step_claim_for_agent
    from releases.engine.transitions import transition

    ci_id = setup["mine"].agent.ci_id
    (step,) = step_claim_for_agent(ci_id=ci_id, owner="agent:me")
    read_by_advance = DeploymentStep.objects.get(pk=step.pk)
    step_heartbeat(step_id=step.pk, attempt=1, owner="agent:me", ci_id=ci_id)
    assert not transition(read_by_advance, StepState.LOST, where={"attempt": 1})
    assert DeploymentStep.objects.get(pk=step.pk).state == StepState.RUNNING


def test_a_step_waiting_its_turn_keeps_its_lease_and_stays_claimed(client, setup):
    mine = setup["mine"]
    step = mine.get(client, STEPS).json()["steps"][0]
    expire(step)
    events = DeploymentEvent.objects.filter(object_type="step", object_id=step["id"]).count()
    answer = mine.post(client, {"attempt": 1, "running": False}, path=heartbeat_path(step))
    assert answer.status_code == 200 and answer.json()["state"] == StepState.CLAIMED
    waiting = DeploymentStep.objects.get(pk=step["id"])
    assert waiting.state == StepState.CLAIMED and waiting.lease_expires_at > timezone.now()
    assert (
        DeploymentEvent.objects.filter(object_type="step", object_id=step["id"]).count() == events
    )
    advance(setup["deployment"].pk)
    assert DeploymentStep.objects.get(pk=step["id"]).state == StepState.CLAIMED
