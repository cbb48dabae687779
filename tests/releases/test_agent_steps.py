"""The agent executor's side: steps wait for the agent of their CI, which claims them and posts
each result; a result for another machine's step or an old attempt is refused."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from itsm.exceptions import ConflictError, PermissionDeniedError
from releases import services
from releases.engine.advance import advance
from releases.engine.steps import step_claim_for_agent, step_record_result
from releases.models import DeploymentStep
from tests.releases.conftest import SYSTEM, make_release

pytestmark = pytest.mark.django_db
ALL = [{"name": "All", "selector": {}, "gate": {"kind": "automatic"}}]


def started(make_cis, n=2):
    cis = make_cis(n)
    release = make_release(wave_plan=ALL)
    deployment = services.deployment_start(context=SYSTEM, release_id=release.pk, executor="agent")
    advance(deployment.pk)
    return cis, deployment


def test_steps_wait_for_the_agent_and_run_in_order(make_cis):
    (ci, _other), deployment = started(make_cis)
    assert not DeploymentStep.objects.exclude(state="pending").exists()  # nothing sent to Celery
    claimed = step_claim_for_agent(ci_id=ci.pk, owner="agent:1")
    assert [s.order for s in claimed] == [1]
    assert step_claim_for_agent(ci_id=ci.pk, owner="agent:1") == []  # step 2 waits for step 1
    for order in (1, 2, 3):
        step = DeploymentStep.objects.get(target__ci=ci, order=order)
        if order > 1:
            assert [s.pk for s in step_claim_for_agent(ci_id=ci.pk, owner="agent:1")] == [step.pk]
        step_record_result(step_id=step.pk, attempt=1, ok=True, log="done", ci_id=ci.pk)
    target = deployment.targets.get(ci=ci)
    assert target.state == "succeeded"


def test_a_result_for_another_machine_or_an_old_attempt_is_refused(make_cis):
    (ci, other), deployment = started(make_cis)
    (step,) = step_claim_for_agent(ci_id=ci.pk, owner="agent:1")
    with pytest.raises(PermissionDeniedError):
        step_record_result(step_id=step.pk, attempt=1, ok=True, ci_id=other.pk)
    with pytest.raises(ConflictError):
        step_record_result(step_id=step.pk, attempt=2, ok=True, ci_id=ci.pk)
    step.refresh_from_db()
    assert step.state == "claimed"
    # Its lease expires: lost, retried as attempt 2; attempt 1's late result is refused.
    DeploymentStep.objects.filter(pk=step.pk).update(
        lease_expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    advance(deployment.pk)
    with pytest.raises(ConflictError):
        step_record_result(step_id=step.pk, attempt=1, ok=True, ci_id=ci.pk)
    (again,) = step_claim_for_agent(ci_id=ci.pk, owner="agent:1")
    assert (again.pk, again.attempt) == (step.pk, 2)
    step_record_result(step_id=step.pk, attempt=2, ok=True, ci_id=ci.pk)
    with pytest.raises(ConflictError):  # posted twice
        step_record_result(step_id=step.pk, attempt=2, ok=True, ci_id=ci.pk)
