"""Ending a deployment part way: cancel (any time it is under way) and "mark failed" (a halted
or paused one, with a reason). Running steps finish and every target settles by itself; a
release whose deployment changed nothing goes back to readiness (after a failure it needs a new
"go"), otherwise it stays deploying until the changed targets are backed out. Each RFC's change
log says so; refused moves write nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from itsm import roles
from itsm.audit import ChangeContext, entries_for
from itsm.exceptions import ApplicationError, PermissionDeniedError
from releases import services
from releases.choices import (
    TARGET_FINISHED,
    DeploymentStatus,
    ReleaseStatus,
    StepPhase,
    StepState,
    TargetState,
    WaveStatus,
)
from releases.engine.advance import advance, reconcile
from releases.engine.local import run_until_quiet
from releases.engine.steps import WORKER, record_result, step_claim, step_run
from releases.executors import StepResult
from releases.models import Deployment, DeploymentEvent, DeploymentStep, DeploymentTarget, Release
from tests.releases.conftest import SYSTEM, make_release

pytestmark = pytest.mark.django_db
ALL = [{"name": "All", "selector": {}, "gate": {"kind": "automatic"}}]
PILOT_SIGNED = [
    {"name": "Pilot", "selector": {"pilot": 1}, "gate": {"kind": "manual"}},
    {"name": "Rest", "selector": {}, "gate": {"kind": "automatic"}},
]


@pytest.fixture(autouse=True)
def _one_step_per_run(settings):
    """These tests move one step at a time: a worker does not go on with the target's next."""
    settings.RELEASES_CHAIN_SECONDS = 0


def deploy(release, **simulation):
    return services.deployment_start(
        context=SYSTEM, release_id=release.pk, executor="simulated", simulation=simulation
    )


def rm(user) -> ChangeContext:
    return ChangeContext(actor=user, source="api")


def next_step(target) -> DeploymentStep:
    return DeploymentStep.objects.filter(target=target, state=StepState.PENDING).order_by("order")[
        0
    ]


def rfc_messages(release) -> list[str]:
    return [e.changes.get("message", "") for e in entries_for(release.changes.get())]


def snapshot(release):
    deployment = Deployment.objects.filter(release=release).order_by("-id").first()
    return (
        Release.objects.values_list("status", "version").get(pk=release.pk),
        deployment and (deployment.status, deployment.version),
        DeploymentEvent.objects.count(),
        DeploymentTarget.objects.filter(state=TargetState.SKIPPED).count(),
    )


@pytest.fixture
def api(release_manager):
    client = APIClient()
    client.force_authenticate(release_manager)
    return client


def test_cancel_before_anything_changed_returns_the_release_to_readiness(make_cis, api):
    make_cis(3)
    release = make_release(wave_plan=PILOT_SIGNED)
    deployment = deploy(release)
    advance(deployment.pk)  # the pilot's steps exist; none was claimed
    url = f"/api/v1/releases/{release.pk}/"
    answer = api.post(url + "cancel/", {"reason": "Wrong executor"}, format="json")
    assert answer.status_code == 200 and answer.json()["status"] == "cancelled"
    assert "Wrong executor" in answer.json()["reason"]
    release.refresh_from_db()
    assert release.status == ReleaseStatus.READINESS
    assert release.readiness.decision == "go"  # a cancel judges nothing: the go stands
    # Every target and step settled: nothing left pending or running.
    assert set(DeploymentTarget.objects.values_list("state", flat=True)) == {TargetState.SKIPPED}
    assert set(DeploymentStep.objects.values_list("state", flat=True)) == {StepState.SKIPPED}
    assert set(Deployment.objects.get().waves.values_list("status", flat=True)) == {
        WaveStatus.CANCELLED
    }
    # Audited (the release log) and written into the RFC's change log.
    kinds = [(e.kind, e.changes) for e in entries_for(release)]
    assert ("status", {"status": {"old": "deploying", "new": "readiness"}}) in kinds
    assert any("before it changed any target" in m for m in rfc_messages(release))
    # Nothing to back out; it may be deployed again.
    assert api.post(url + "backout/", {}, format="json").status_code == 400
    assert api.post(url + "deploy/", {"executor": "simulated"}, format="json").status_code == 201


def test_cancel_after_changes_keeps_the_release_deploying_until_backed_out(
    make_cis, release_manager
):
    make_cis(3)
    release = make_release(wave_plan=PILOT_SIGNED)
    deployment = run_until_quiet(deploy(release).pk)  # the pilot ran; its gate waits
    pilot = deployment.waves.get(order=1).targets.get()
    assert pilot.state == TargetState.SUCCEEDED
    services.deployment_cancel(context=rm(release_manager), release_id=release.pk)
    deployment.refresh_from_db()
    release.refresh_from_db()
    assert deployment.status == DeploymentStatus.CANCELLED
    assert release.status == ReleaseStatus.DEPLOYING
    assert "1 target(s) were changed" in deployment.reason
    assert "Back out release" in deployment.reason
    assert any("must be backed out" in m for m in rfc_messages(release))
    rest = DeploymentTarget.objects.filter(wave__order=2)
    assert set(rest.values_list("state", flat=True)) == {TargetState.SKIPPED}
    # Nothing more happens by itself; a whole backout reaches only the changed target.
    assert run_until_quiet(deployment.pk).status == DeploymentStatus.CANCELLED
    services.deployment_backout(context=rm(release_manager), release_id=release.pk)
    deployment = run_until_quiet(deployment.pk)
    assert deployment.status == DeploymentStatus.BACKED_OUT
    release.refresh_from_db()
    assert release.status == ReleaseStatus.BACKED_OUT
    assert DeploymentTarget.objects.get(pk=pilot.pk).state == TargetState.BACKED_OUT
    assert not DeploymentStep.objects.filter(target__in=rest).exists()
    assert set(rest.values_list("state", flat=True)) == {TargetState.SKIPPED}


def test_a_cancelled_deployment_settles_when_its_running_step_finishes(make_cis, release_manager):
    make_cis(2)
    release = make_release(wave_plan=ALL)
    deployment = deploy(release)
    advance(deployment.pk)
    busy, idle = DeploymentTarget.objects.order_by("pk")
    claimed = step_claim(step_id=next_step(busy).pk, attempt=1)
    assert claimed is not None
    services.deployment_cancel(context=rm(release_manager), release_id=release.pk)
    assert DeploymentTarget.objects.get(pk=idle.pk).state == TargetState.SKIPPED
    assert DeploymentTarget.objects.get(pk=busy.pk).state == TargetState.RUNNING
    # A claimed step may change its machine: the release stays deploying.
    assert Release.objects.get(pk=release.pk).status == ReleaseStatus.DEPLOYING
    assert record_result(step=claimed, result=StepResult(ok=True, log="ok"), owner=WORKER)
    assert reconcile() == 1  # the reconciler finds the running target …
    assert DeploymentTarget.objects.get(pk=busy.pk).state == TargetState.FAILED  # … settled
    assert set(DeploymentTarget.objects.values_list("state", flat=True)) <= TARGET_FINISHED
    assert reconcile() == 0  # nothing left to look at
    # The step after it was never claimed; retrying it is refused (it would never run).
    with pytest.raises(ApplicationError, match="Back the target out"):
        services.target_retry(context=rm(release_manager), target_id=busy.pk)
    with pytest.raises(ApplicationError, match="has not started"):
        services.target_backout(context=rm(release_manager), target_id=idle.pk)


@pytest.mark.parametrize("idempotent", [True, False])
def test_a_cancelled_deployment_settles_when_a_running_step_loses_its_worker(
    make_cis, release_manager, idempotent
):
    make_cis(1)
    release = make_release(wave_plan=ALL)
    deployment = deploy(release)
    advance(deployment.pk)
    step = next_step(DeploymentTarget.objects.get())
    DeploymentStep.objects.filter(pk=step.pk).update(idempotent=idempotent)
    assert step_claim(step_id=step.pk, attempt=1) is not None
    services.deployment_cancel(context=rm(release_manager), release_id=release.pk)
    DeploymentStep.objects.filter(pk=step.pk).update(
        lease_expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    assert run_until_quiet(deployment.pk).status == DeploymentStatus.CANCELLED
    assert DeploymentTarget.objects.get().state == TargetState.FAILED
    assert reconcile() == 0


def test_cancel_then_backout_with_a_step_still_running_finishes_by_itself(
    make_cis, release_manager
):
    make_cis(2)
    release = make_release(wave_plan=ALL)
    deployment = deploy(release)
    advance(deployment.pk)
    busy = DeploymentTarget.objects.order_by("pk").first()
    step_run(step_id=next_step(busy).pk, attempt=1)
    claimed = step_claim(step_id=next_step(busy).pk, attempt=1)
    services.deployment_cancel(context=rm(release_manager), release_id=release.pk)
    services.deployment_backout(context=rm(release_manager), release_id=release.pk)
    assert advance(deployment.pk)["status"] == DeploymentStatus.BACKING_OUT  # waits for it
    assert record_result(step=claimed, result=StepResult(ok=True, log="ok"), owner=WORKER)
    deployment = run_until_quiet(deployment.pk)
    assert deployment.status == DeploymentStatus.BACKED_OUT
    assert Release.objects.get(pk=release.pk).status == ReleaseStatus.BACKED_OUT
    assert DeploymentTarget.objects.get(pk=busy.pk).state == TargetState.BACKED_OUT
    backout = DeploymentStep.objects.filter(target=busy, phase=StepPhase.BACKOUT)
    assert set(backout.values_list("state", flat=True)) == {StepState.SUCCEEDED}


def test_mark_failed_ends_a_halted_deployment_and_keeps_the_release_for_backout(
    make_cis, release_manager, make_user, api
):
    make_cis(2)
    release = make_release(wave_plan=ALL)
    deployment = run_until_quiet(deploy(release, failure_rate=1.0).pk)
    assert deployment.status == DeploymentStatus.HALTED
    url = f"/api/v1/releases/{release.pk}/"
    before = snapshot(release)
    # No reason, wrong role: refused, nothing written.
    answer = api.post(url + "fail/", {}, format="json")
    assert answer.status_code == 400 and "reason" in answer.json()
    assert api.post(url + "fail/", {"reason": "   "}, format="json").status_code == 400
    assert api.post(url + "fail/", ["x"], format="json").status_code == 400
    tech = APIClient()
    tech.force_authenticate(make_user(roles.DEPLOYMENT_TECHNICIAN))
    assert tech.post(url + "fail/", {"reason": "x"}, format="json").status_code == 403
    with pytest.raises(PermissionDeniedError):
        services.deployment_fail(
            context=rm(make_user(roles.DEPLOYMENT_TECHNICIAN)), release_id=release.pk, reason="x"
        )
    assert snapshot(release) == before
    answer = api.post(url + "fail/", {"reason": "The patch breaks printing"}, format="json")
    assert answer.status_code == 200
    progress = answer.json()
    assert progress["status"] == "failed" and "breaks printing" in progress["reason"]
    assert "back them out" in progress["reason"]
    assert Release.objects.get(pk=release.pk).status == ReleaseStatus.DEPLOYING
    assert any("marked failed" in m for m in rfc_messages(release))
    # Failed is final but for a backout: no second end, no resume.
    for action in ("fail/", "cancel/", "resume/", "pause/"):
        before = snapshot(release)
        assert api.post(url + action, {"reason": "again"}, format="json").status_code == 400
        assert snapshot(release) == before
    Deployment.objects.filter(pk=deployment.pk).update(simulation={"simulated": True})
    assert api.post(url + "backout/", {}, format="json").status_code == 200
    assert run_until_quiet(deployment.pk).status == DeploymentStatus.BACKED_OUT
    assert Release.objects.get(pk=release.pk).status == ReleaseStatus.BACKED_OUT


def test_only_a_halted_or_paused_deployment_is_marked_failed(make_cis, release_manager):
    make_cis(1)
    release = make_release(wave_plan=ALL)
    deployment = deploy(release)
    advance(deployment.pk)
    before = snapshot(release)
    with pytest.raises(ApplicationError, match="pause it first, or cancel it"):
        services.deployment_fail(context=rm(release_manager), release_id=release.pk, reason="x")
    assert snapshot(release) == before


def test_a_paused_deployment_marked_failed_before_any_change_needs_a_new_go(
    make_cis, release_manager, api
):
    make_cis(2)
    release = make_release(wave_plan=ALL)
    deployment = deploy(release)
    advance(deployment.pk)
    services.deployment_pause(context=rm(release_manager), release_id=release.pk)
    services.deployment_fail(
        context=rm(release_manager), release_id=release.pk, reason="Vendor withdrew the patch"
    )
    assert Deployment.objects.get(pk=deployment.pk).status == DeploymentStatus.FAILED
    release.refresh_from_db()
    assert release.status == ReleaseStatus.READINESS
    assert release.readiness.decision == ""
    assert any("new “go” is needed" in m for m in rfc_messages(release))
    answer = api.post(f"/api/v1/releases/{release.pk}/deploy/", {"executor": "simulated"})
    assert answer.status_code == 400 and "go" in answer.json()["detail"]


def test_resume_after_a_failed_backout_step_goes_on_backing_out(make_cis, release_manager):
    make_cis(3)
    release = make_release(wave_plan=PILOT_SIGNED)
    deployment = run_until_quiet(deploy(release).pk)  # pilot done; "Rest" still pending
    Deployment.objects.filter(pk=deployment.pk).update(
        simulation={"failure_rate": 1.0, "simulated": True}
    )
    services.deployment_backout(context=rm(release_manager), release_id=release.pk)
    deployment = run_until_quiet(deployment.pk)
    assert deployment.status == DeploymentStatus.PAUSED and "backout step failed" in (
        deployment.reason
    )
    Deployment.objects.filter(pk=deployment.pk).update(simulation={"simulated": True})
    pilot = DeploymentTarget.objects.get(wave__order=1)
    services.target_retry(context=rm(release_manager), target_id=pilot.pk)
    services.deployment_resume(context=rm(release_manager), release_id=release.pk)
    assert Deployment.objects.get(pk=deployment.pk).status == DeploymentStatus.BACKING_OUT
    assert run_until_quiet(deployment.pk).status == DeploymentStatus.BACKED_OUT


def test_ending_in_the_ui(make_cis, release_manager, client):
    make_cis(2)
    release = make_release(wave_plan=ALL)
    deployment = run_until_quiet(deploy(release, failure_rate=1.0).pk)
    assert deployment.status == DeploymentStatus.HALTED
    client.force_login(release_manager)
    detail = reverse("releases:release-detail", args=[release.pk])
    page = client.get(detail).content.decode()
    # Halted: a person ends it as failed (with a reason); no Cancel button beside it.
    assert 'id="fail-form"' in page
    assert reverse("releases:cancel", args=[release.pk]) not in page
    fail = reverse("releases:fail", args=[release.pk])
    response = client.post(fail, {"reason": ""}, follow=True)
    assert "Say why the deployment failed" in response.content.decode()
    assert Deployment.objects.get(pk=deployment.pk).status == DeploymentStatus.HALTED
    response = client.post(fail, {"reason": "Breaks printing"}, follow=True)
    page = response.content.decode()
    assert "Deployment marked failed." in page
    assert 'data-status="failed"' in page and "Back out release" in page
    # A second end is refused with a message and writes nothing.
    before = snapshot(release)
    response = client.post(reverse("releases:cancel", args=[release.pk]), follow=True)
    assert "cannot be cancelled" in response.content.decode()
    assert snapshot(release) == before


def test_the_ui_hides_the_release_backout_once_back_in_readiness(make_cis, release_manager, client):
    make_cis(1)
    release = make_release(wave_plan=ALL)
    deploy(release)
    client.force_login(release_manager)
    client.post(reverse("releases:cancel", args=[release.pk]), {"reason": "Not tonight"})
    assert Release.objects.get(pk=release.pk).status == ReleaseStatus.READINESS
    page = client.get(reverse("releases:release-detail", args=[release.pk])).content.decode()
    assert 'data-status="cancelled"' in page and "Not tonight" in page
    assert "Back out release" not in page


def cancel_form(page: str) -> str:
    start = page.index('id="cancel-form"')
    return page[start : page.index("</form>", start)]


def test_cancel_in_the_ui_takes_an_optional_reason_and_shows_it(
    make_cis, release_manager, make_user, client
):
    make_cis(1)
    release = make_release(wave_plan=ALL)
    deployment = deploy(release)
    detail = reverse("releases:release-detail", args=[release.pk])
    cancel = reverse("releases:cancel", args=[release.pk])
    before = snapshot(release)
    # A Deployment Technician may not cancel: refused, nothing written.
    client.force_login(make_user(roles.DEPLOYMENT_TECHNICIAN))
    assert 'id="cancel-form"' not in client.get(detail).content.decode()
    assert client.post(cancel, {"reason": "Not tonight"}).status_code == 403
    assert snapshot(release) == before
    client.force_login(release_manager)
    form = cancel_form(client.get(detail).content.decode())
    assert 'name="reason"' in form and "required" not in form and 'maxlength="1000"' in form
    # A reason longer than the field takes: a message, nothing written.
    response = client.post(cancel, {"reason": "x" * 1001}, follow=True)
    assert "The reason is too long (at most 1000 characters)." in response.content.decode()
    assert snapshot(release) == before
    response = client.post(cancel, {"reason": "  Freeze moved to Friday  "}, follow=True)
    page = response.content.decode()
    said = f"Cancelled by {release_manager.username}: Freeze moved to Friday"
    assert "Deployment cancelled." in page
    assert f'id="deployment-reason">{said}</div>' in page
    deployment.refresh_from_db()
    assert (deployment.status, deployment.reason) == (DeploymentStatus.CANCELLED, said)
    assert any("Freeze moved to Friday" in m for m in rfc_messages(release))


def test_cancel_in_the_ui_without_a_reason_says_who_cancelled(make_cis, release_manager, client):
    make_cis(1)
    release = make_release(wave_plan=ALL)
    deployment = deploy(release)
    client.force_login(release_manager)
    response = client.post(reverse("releases:cancel", args=[release.pk]), {"reason": "  "})
    assert response.status_code == 302
    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.CANCELLED
    assert deployment.reason == f"Cancelled by {release_manager.username}."
