"""Gating rules, windows and blackouts, readiness, cancel and wave backout; query counts of the
progress endpoint and the release list."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from changes.models import Blackout
from itsm.audit import ChangeContext
from itsm.exceptions import ApplicationError, ConflictError
from releases import services
from releases.choices import DeploymentStatus, ReleaseStatus, TargetState, WaveStatus
from releases.engine.advance import advance
from releases.engine.local import run_until_quiet
from releases.models import DeploymentStep, ReadinessReview, Release
from tests.query_counts import assert_pinned, measure
from tests.releases.conftest import SYSTEM, TWO_WAVES_AUTO, approved_change, make_release

pytestmark = pytest.mark.django_db
ALL = [{"name": "All", "selector": {}, "gate": {"kind": "automatic"}}]


def deploy(release, **simulation):
    return services.deployment_start(
        context=SYSTEM, release_id=release.pk, executor="simulated", simulation=simulation
    )


def test_no_wave_starts_in_a_change_blackout(make_cis):
    make_cis(2)
    now = timezone.now()
    blackout = Blackout.objects.create(
        name="Year-end freeze", start=now - dt.timedelta(hours=1), end=now + dt.timedelta(hours=1)
    )
    release = make_release(wave_plan=ALL)
    deployment = run_until_quiet(deploy(release).pk)
    assert deployment.status == DeploymentStatus.RUNNING
    assert "blackout" in deployment.reason.lower()
    assert not DeploymentStep.objects.exists()
    blackout.delete()
    assert run_until_quiet(deployment.pk).status == DeploymentStatus.SUCCEEDED


def test_no_wave_starts_before_the_window(make_cis):
    make_cis(1)
    release = make_release(wave_plan=ALL)
    Release.objects.filter(pk=release.pk).update(
        window_start=timezone.now() + dt.timedelta(hours=2),
        window_end=timezone.now() + dt.timedelta(hours=4),
    )
    deployment = run_until_quiet(deploy(release).pk)
    assert deployment.status == DeploymentStatus.RUNNING and "window" in deployment.reason
    assert not DeploymentStep.objects.exists()


def test_go_needs_the_whole_checklist_and_approved_rfcs(make_cis):
    release = make_release(go=False)
    with pytest.raises(ApplicationError, match="checklist"):
        services.readiness_decide(context=SYSTEM, release_id=release.pk, decision="go")
    services.readiness_update(
        context=SYSTEM,
        release_id=release.pk,
        checklist={item: True for item in ReadinessReview.CHECKLIST},
    )
    change = release.changes.get()
    type(change).objects.filter(pk=change.pk).update(status="rejected")
    with pytest.raises(ApplicationError, match="RFC"):
        services.readiness_decide(context=SYSTEM, release_id=release.pk, decision="go")
    # No-go is always possible, and recorded.
    review = services.readiness_decide(context=SYSTEM, release_id=release.pk, decision="no_go")
    assert review.decision == "no_go"


def test_a_stale_readiness_version_is_409():
    release = make_release(go=False)
    review = services.readiness_get(release)
    services.readiness_update(
        context=SYSTEM,
        release_id=release.pk,
        checklist={"training": True},
        expected_version=review.version,
    )
    with pytest.raises(ConflictError):
        services.readiness_update(
            context=SYSTEM,
            release_id=release.pk,
            checklist={"resources": True},
            expected_version=review.version,
        )


def test_changing_the_checklist_clears_an_earlier_go():
    release = make_release()
    review = services.readiness_update(
        context=SYSTEM, release_id=release.pk, checklist={"training": False}
    )
    assert review.decision == ""


def test_only_approved_rfcs_and_only_before_acceptance():
    release = make_release(status=ReleaseStatus.PLANNING)
    for status in ("draft", "submitted", "rejected", "cancelled", "implemented"):
        with pytest.raises(ApplicationError):
            services.release_add_change(
                context=SYSTEM, release_id=release.pk, change_id=approved_change(status=status).pk
            )
    assert not release.changes.exists()
    ready = make_release()
    with pytest.raises(ApplicationError):
        services.release_add_change(
            context=SYSTEM, release_id=ready.pk, change_id=approved_change().pk
        )


def test_a_role_without_the_permission_is_refused(make_user):
    from itsm import roles
    from itsm.exceptions import PermissionDeniedError

    release = make_release(status=ReleaseStatus.PLANNING)
    desk = ChangeContext(actor=make_user(roles.SERVICE_DESK))
    with pytest.raises(PermissionDeniedError):
        services.release_update(context=desk, release_id=release.pk, data={"title": "x"})
    tech = ChangeContext(actor=make_user(roles.DEPLOYMENT_TECHNICIAN))
    ready = make_release()
    with pytest.raises(PermissionDeniedError):
        services.deployment_start(context=tech, release_id=ready.pk, executor="simulated")
    with pytest.raises(PermissionDeniedError):
        services.readiness_decide(context=tech, release_id=ready.pk, decision="no_go")


def test_cancel_after_progress_keeps_what_was_deployed(make_cis, release_manager, settings):
    settings.RELEASES_CHAIN_SECONDS = 0  # one step only: the target's next step stays pending
    make_cis(3)
    release = make_release(wave_plan=TWO_WAVES_AUTO)
    deployment = deploy(release)
    advance(deployment.pk)
    step = DeploymentStep.objects.order_by("pk").first()
    from releases.engine.steps import step_run

    step_run(step_id=step.pk, attempt=1)
    services.deployment_cancel(context=ChangeContext(actor=release_manager), release_id=release.pk)
    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.CANCELLED
    assert set(deployment.waves.values_list("status", flat=True)) == {WaveStatus.CANCELLED}
    release.refresh_from_db()
    assert release.status == ReleaseStatus.DEPLOYING  # something ran: back it out or close
    assert run_until_quiet(deployment.pk).status == DeploymentStatus.CANCELLED
    assert DeploymentStep.objects.filter(state="pending").count() > 0  # nothing new claimed


def test_backout_of_a_wave_halts_the_deployment(make_cis, release_manager):
    make_cis(3)
    plan = [
        {"name": "Pilot", "selector": {"pilot": 1}, "gate": {"kind": "manual"}},
        {"name": "Rest", "selector": {}, "gate": {"kind": "automatic"}},
    ]
    release = make_release(wave_plan=plan)
    deployment = run_until_quiet(deploy(release).pk)
    pilot = deployment.waves.get(order=1)
    services.deployment_backout(
        context=ChangeContext(actor=release_manager), release_id=release.pk, wave_id=pilot.pk
    )
    deployment = run_until_quiet(deployment.pk)
    assert deployment.status == DeploymentStatus.HALTED
    assert pilot.targets.get().state == TargetState.BACKED_OUT


def test_progress_and_list_run_a_fixed_number_of_queries(make_cis, release_manager):
    make_cis(6)
    release = make_release(wave_plan=TWO_WAVES_AUTO)
    run_until_quiet(deploy(release).pk)
    client = APIClient()
    client.force_authenticate(release_manager)
    small = measure(client, f"/api/v1/releases/{release.pk}/progress/?targets=2")
    large = measure(client, f"/api/v1/releases/{release.pk}/progress/?targets=500")
    assert small == large
    assert_pinned("api releases progress", large)
    make_release(status=ReleaseStatus.PLANNING)
    assert_pinned("api releases list", measure(client, "/api/v1/releases/"))


def test_closing_a_backed_out_release_reviews_its_rfcs_as_backed_out(make_cis, release_manager):
    make_cis(2)
    release = make_release(wave_plan=ALL)
    deployment = deploy(release)
    services.deployment_pause(context=ChangeContext(actor=release_manager), release_id=release.pk)
    services.deployment_backout(context=ChangeContext(actor=release_manager), release_id=release.pk)
    assert run_until_quiet(deployment.pk).status == DeploymentStatus.BACKED_OUT
    services.release_close(context=ChangeContext(actor=release_manager), release_id=release.pk)
    change = release.changes.get()
    assert (change.status, change.outcome) == ("reviewed", "backed_out")
