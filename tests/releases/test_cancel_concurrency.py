"""A worker claiming a step while a Release Manager cancels (PostgreSQL row locks): the cancel
never claims the release "changed nothing" while a claim it could not see is committing."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction

from itsm.audit import ChangeContext
from releases import services
from releases.choices import DeploymentStatus, ReleaseStatus, StepState, TargetState
from releases.engine.advance import advance
from releases.engine.local import run_until_quiet
from releases.engine.steps import WORKER, record_result, step_claim
from releases.executors import StepResult
from releases.models import Deployment, DeploymentStep, DeploymentTarget, Release
from tests.releases.conftest import SYSTEM, make_release

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ALL = [{"name": "All", "selector": {}, "gate": {"kind": "automatic"}}]


@pytest.fixture(autouse=True)
def _postgres_only(monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL; SQLite serialises writers anyway")
    # Commits happen here: keep the eager tasks from running the deployment behind our back
    # (no broker: the test plays the worker and the reconciler).
    from releases.tasks import advance_task, run_step_task

    monkeypatch.setattr(advance_task, "delay", lambda *args, **kwargs: None)
    monkeypatch.setattr(run_step_task, "apply_async", lambda *args, **kwargs: None)


def test_a_claim_committing_during_the_cancel_keeps_the_release_deploying(
    make_cis, release_manager
):
    make_cis(1)
    release = make_release(wave_plan=ALL)
    deployment = services.deployment_start(
        context=SYSTEM, release_id=release.pk, executor="simulated", simulation={}
    )
    advance(deployment.pk)
    step = DeploymentStep.objects.get(order=1)
    claimed, cancelled = threading.Event(), threading.Event()
    result: dict = {}

    def worker():
        try:
            with transaction.atomic():  # the claim's row lock is held until commit
                result["step"] = step_claim(step_id=step.pk, attempt=1)
                claimed.set()
                cancelled.wait(10)
        finally:
            claimed.set()
            connections.close_all()

    thread = threading.Thread(target=worker)
    thread.start()
    assert claimed.wait(10)
    try:
        services.deployment_cancel(
            context=ChangeContext(actor=release_manager), release_id=release.pk
        )
    finally:
        cancelled.set()
        thread.join(10)
    assert result["step"] is not None  # the worker's claim went through
    # The cancel could not skip the step being claimed: the release is not back in readiness.
    assert Release.objects.get(pk=release.pk).status == ReleaseStatus.DEPLOYING
    assert "1 target(s) were changed" in Deployment.objects.get(pk=deployment.pk).reason
    assert record_result(step=result["step"], result=StepResult(ok=True), owner=WORKER)
    # Backing the release out reaches that target although it never got further.
    services.deployment_backout(context=ChangeContext(actor=release_manager), release_id=release.pk)
    assert run_until_quiet(deployment.pk).status == DeploymentStatus.BACKED_OUT
    assert DeploymentTarget.objects.get().state == TargetState.BACKED_OUT
    assert Release.objects.get(pk=release.pk).status == ReleaseStatus.BACKED_OUT


def test_a_claim_after_the_cancel_claims_nothing(make_cis, release_manager):
    make_cis(1)
    release = make_release(wave_plan=ALL)
    deployment = services.deployment_start(
        context=SYSTEM, release_id=release.pk, executor="simulated", simulation={}
    )
    advance(deployment.pk)
    step = DeploymentStep.objects.get(order=1)
    services.deployment_cancel(context=ChangeContext(actor=release_manager), release_id=release.pk)
    assert step_claim(step_id=step.pk, attempt=1) is None
    assert DeploymentStep.objects.get(pk=step.pk).state == StepState.SKIPPED
    assert Release.objects.get(pk=release.pk).status == ReleaseStatus.READINESS
