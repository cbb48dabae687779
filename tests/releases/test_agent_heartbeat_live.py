"""The real `itsm-agent` keeps the lease of a long step alive: with a lease of 3 s (heartbeats
every second), a step that runs three times as long is still running each time the
reconciler's `advance` looks, and succeeds. Without heartbeats the same step is lost (not
idempotent: the deployment pauses for a person) and its late result is refused."""

from __future__ import annotations

import threading
import time

import pytest

from agents.client import cli, deploy
from agents.client.heartbeat import Heartbeats
from agents.client.modules import Outcome
from cmdb.models import ConfigurationItem
from itsm import roles
from releases import services
from releases.choices import DeploymentStatus, StepState, TargetState
from releases.engine.advance import advance
from releases.models import DeploymentEvent, DeploymentStep, DeploymentTarget
from tests.agents.test_agent_live import fast_retries  # noqa: F401 (fixture)
from tests.releases.conftest import ctx, make_release
from tests.releases.test_agent_executor_live import ONE_WAVE, enrolled  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db(transaction=True)

LEASE = 3
LONG = [
    {
        "phase": "install",
        "name": "Long install",
        "module": "shell",
        "params": {"cmd": "true"},
        "idempotent": False,
    },
    {"phase": "install", "name": "Quick one", "module": "shell", "params": {"cmd": "true"}},
    {"phase": "backout", "name": "Remove", "module": "shell", "params": {"cmd": "true"}},
]


@pytest.fixture
def long_step(enrolled, make_user, settings, monkeypatch):  # noqa: F811
    """A deployment to the agent's machine whose first step runs 3 leases long. The database
    is touched by one thread at a time (the in-memory SQLite of the live server is one
    connection): the agent's requests and the test's `advance` take turns."""
    settings.RELEASES_LEASE_SECONDS = LEASE
    ci = ConfigurationItem.objects.get(pk=enrolled["agent"].ci_id)
    release = make_release(steps=LONG, wave_plan=ONE_WAVE, target_filter={"hostname": ci.hostname})
    deployment = services.deployment_start(
        context=ctx(make_user(roles.RELEASE_MANAGER)), release_id=release.pk, executor="agent"
    )
    turn = threading.Lock()
    seen: list[str] = []

    def taking_turns(function):
        def wrapped(*args, **kwargs):
            with turn:
                return function(*args, **kwargs)

        return wrapped

    def fake_run_step(context):
        if context.step["name"] != "Long install":
            return Outcome(True, "quick")
        for _ in range(3):
            time.sleep(LEASE)  # as long as a whole lease, three times
            with turn:  # the reconciler comes by
                advance(deployment.pk)
                seen.append(DeploymentStep.objects.get(pk=context.step["id"]).state)
        return Outcome(True, "installed after 9 s")

    monkeypatch.setattr(deploy, "run_step", fake_run_step)
    monkeypatch.setattr(Heartbeats, "_send", taking_turns(Heartbeats._send))
    monkeypatch.setattr(deploy, "post_result", taking_turns(deploy.post_result))
    monkeypatch.setattr(deploy, "verified_files", taking_turns(deploy.verified_files))
    return {"deployment": deployment, "seen": seen, "state": enrolled["state"]}


def test_heartbeats_keep_a_long_step_alive(long_step):
    deployment = long_step["deployment"]

    assert cli.main(["deploy", *long_step["state"]]) == 0

    assert long_step["seen"] == [StepState.RUNNING] * 3  # never lost
    target = DeploymentTarget.objects.get(deployment=deployment)
    assert target.state == TargetState.SUCCEEDED
    first = target.steps.get(order=1)
    assert first.state == StepState.SUCCEEDED and first.attempt == 1
    assert not DeploymentEvent.objects.filter(to_state=StepState.LOST).exists()
    assert DeploymentEvent.objects.filter(
        object_id=first.pk, object_type="step", to_state=StepState.RUNNING
    ).exists()
    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.SUCCEEDED


def test_without_heartbeats_the_same_step_is_lost(long_step, monkeypatch):
    monkeypatch.setattr(Heartbeats, "start", lambda self: None)
    deployment = long_step["deployment"]

    assert cli.main(["deploy", *long_step["state"]]) == cli.EXIT_ERROR  # result refused

    assert long_step["seen"][0] == StepState.LOST
    first = DeploymentStep.objects.get(deployment=deployment, order=1)
    assert first.state == StepState.LOST and "installed" not in first.log
    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.PAUSED  # not idempotent: a person decides
