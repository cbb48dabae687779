"""The release UI per role: Release Managers act, Deployment Technicians act on targets only,
Read Only reads, everyone else is refused; forms show their errors and write nothing then; the
progress fragment polls while the deployment runs and stops when it is finished, in a fixed
number of queries."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from itsm import roles
from releases import services
from releases.choices import DeploymentStatus, ReleaseStatus, TargetState
from releases.engine.local import run_until_quiet
from releases.models import Deployment, ReadinessReview, SoftwareArtifact
from tests.query_counts import assert_pinned, measure
from tests.releases.conftest import TWO_WAVES_AUTO, ctx, make_release

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def as_role(client, make_user):
    def login(role: str | None):
        user = make_user(role)
        client.force_login(user)
        return user

    return login


@pytest.fixture
def release(make_cis):
    make_cis(3)
    return make_release(wave_plan=TWO_WAVES_AUTO)


def url(name: str, *args) -> str:
    return reverse(f"releases:{name}", args=args)


def deployed(release, *, failure_rate: float = 0.0) -> Deployment:
    from django.contrib.auth.models import User

    manager = User.objects.filter(groups__name=roles.RELEASE_MANAGER).first()
    deployment = services.deployment_start(
        context=ctx(manager),
        release_id=release.pk,
        executor="simulated",
        simulation={"failure_rate": failure_rate, "step_delay_ms": 0},
    )
    return run_until_quiet(deployment.pk)


# --- reading ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (roles.RELEASE_MANAGER, 200),
        (roles.DEPLOYMENT_TECHNICIAN, 200),
        (roles.READ_ONLY, 200),
        (roles.SERVICE_DESK, 200),
        (None, 403),
    ],
)
def test_pages_are_read_by_the_roles_that_may(as_role, client, release, role, status):
    as_role(role)
    for page in (
        url("release-list"),
        url("release-detail", release.pk),
        url("release-progress", release.pk),
        url("artifact-list"),
    ):
        assert client.get(page).status_code == status, page


def test_the_list_searches_filters_and_pages(as_role, client, release, make_cis):
    as_role(roles.READ_ONLY)
    other = services.release_create(context=ctx(), title="Printer drivers")
    page = client.get(url("release-list"), {"q": release.number}).content.decode()
    assert release.number in page and other.number not in page
    page = client.get(url("release-list"), {"status": "planning"}).content.decode()
    assert other.number in page and release.number not in page
    page = client.get(url("release-list"), {"release_type": "major"}).content.decode()
    assert other.number not in page and release.number not in page
    assert client.get(url("release-list"), {"page": "99"}).status_code == 200


def test_the_release_page_shows_plan_strategy_rfcs_package_and_acceptance(as_role, client, release):
    services.release_task_add(
        context=ctx(), release_id=release.pk, title="Tell the users", resources="mail"
    )
    as_role(roles.READ_ONLY)
    page = client.get(url("release-detail", release.pk)).content.decode()
    for text in (
        "Tell the users",
        release.changes.get().number,
        "Install the patch",
        "Install and back out in the lab",
        "backout proven",
        "Not deployed yet.",
    ):
        assert text in page
    # Read Only sees the checklist, not the form nor the controls.
    assert 'id="readiness-form"' not in page and 'id="deploy-form"' not in page


# --- readiness --------------------------------------------------------------------------------


def test_a_release_manager_ticks_the_checklist_and_records_go(as_role, client, make_cis):
    make_cis(2)
    release = make_release(go=False)
    as_role(roles.RELEASE_MANAGER)
    page = client.get(url("release-detail", release.pk)).content.decode()
    assert 'id="readiness-form"' in page and 'id="deploy-form"' in page
    # Go with an unticked checklist: refused, shown, nothing decided.
    response = client.post(url("readiness", release.pk), {"decision": "go"}, follow=True)
    assert "Go needs every checklist item" in response.content.decode()
    assert ReadinessReview.objects.get(release=release).decision == ""
    data = dict.fromkeys(ReadinessReview.CHECKLIST, "on")
    response = client.post(url("readiness", release.pk), {**data, "decision": "go"}, follow=True)
    assert response.status_code == 200
    review = ReadinessReview.objects.get(release=release)
    assert review.decision == "go" and all(getattr(review, i) for i in ReadinessReview.CHECKLIST)


@pytest.mark.parametrize("role", [roles.DEPLOYMENT_TECHNICIAN, roles.READ_ONLY, None])
def test_others_cannot_decide_readiness(as_role, client, make_cis, role):
    make_cis(1)
    release = make_release(go=False)
    as_role(role)
    data = {**dict.fromkeys(ReadinessReview.CHECKLIST, "on"), "decision": "go"}
    assert client.post(url("readiness", release.pk), data).status_code == 403
    assert not ReadinessReview.objects.filter(release=release, decision="go").exists()


# --- deployment control -----------------------------------------------------------------------


def test_a_release_manager_deploys_and_the_progress_reaches_100(as_role, client, release):
    as_role(roles.RELEASE_MANAGER)
    response = client.post(
        url("deploy", release.pk),
        {"executor": "simulated", "failure_rate": "0", "step_delay_ms": "0"},
    )
    assert response.status_code == 302
    deployment = Deployment.objects.get(release=release)
    assert deployment.simulation["simulated"] is True
    fragment = client.get(url("release-progress", release.pk)).content.decode()
    assert 'hx-trigger="every 2s"' in fragment  # still running: the page keeps polling
    run_until_quiet(deployment.pk)
    fragment = client.get(url("release-progress", release.pk)).content.decode()
    assert 'data-status="succeeded"' in fragment and 'data-percent="100.0"' in fragment
    assert "hx-trigger" not in fragment  # finished: the polling stops
    # A second start: refused, shown as a message, nothing new.
    response = client.post(url("deploy", release.pk), {"executor": "simulated"}, follow=True)
    assert "messages" in response.context and Deployment.objects.count() == 1


def test_bad_deploy_input_writes_nothing(as_role, client, release):
    as_role(roles.RELEASE_MANAGER)
    client.post(url("deploy", release.pk), {"executor": "simulated", "failure_rate": "7"})
    client.post(url("deploy", release.pk), {"executor": "teleport"})
    assert not Deployment.objects.exists()
    release.refresh_from_db()
    assert release.status == ReleaseStatus.READINESS


def test_pause_resume_and_cancel_by_a_release_manager(as_role, client, release):
    manager = as_role(roles.RELEASE_MANAGER)
    services.deployment_start(context=ctx(manager), release_id=release.pk, executor="simulated")
    deployment = Deployment.objects.get()
    client.post(url("pause", release.pk), {"reason": "lunch"})
    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.PAUSED
    client.post(url("resume", release.pk))
    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.RUNNING
    client.post(url("cancel", release.pk))
    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.CANCELLED


@pytest.mark.parametrize("role", [roles.DEPLOYMENT_TECHNICIAN, roles.READ_ONLY, roles.SERVICE_DESK])
def test_only_release_managers_control_deployments(as_role, client, release, make_user, role):
    services.deployment_start(
        context=ctx(make_user(roles.RELEASE_MANAGER)), release_id=release.pk, executor="simulated"
    )
    wave = Deployment.objects.get().waves.first()
    as_role(role)
    for action in ("deploy", "pause", "resume", "cancel", "backout"):
        assert client.post(url(action, release.pk)).status_code == 403, action
    assert client.post(url("wave-sign-off", release.pk, wave.pk)).status_code == 403
    assert Deployment.objects.get().status == DeploymentStatus.RUNNING


def test_a_technician_sees_failing_targets_and_retries_one(as_role, client, release, make_user):
    as_role(roles.RELEASE_MANAGER)
    make_user(roles.RELEASE_MANAGER)
    deployment = deployed(release, failure_rate=1.0)
    failed = deployment.targets.filter(state=TargetState.FAILED).first()
    assert failed is not None
    as_role(roles.DEPLOYMENT_TECHNICIAN)
    # By default a technician sees his targets: nobody is assigned to this one.
    page = client.get(url("targets")).content.decode()
    assert f'data-target="{failed.pk}"' not in page and "?whose=unassigned" in page
    page = client.get(url("targets") + "?whose=unassigned").content.decode()
    assert f'data-target="{failed.pk}"' in page
    detail = client.get(url("release-detail", release.pk)).content.decode()
    assert "simulated failure" in detail  # the failing target's step log
    assert 'id="deployment-controls"' not in detail  # no release controls for a technician
    response = client.post(url("target-retry", failed.pk), {"from": "targets"})
    assert response.status_code == 302 and response["Location"] == url("targets")
    failed.refresh_from_db()
    assert failed.state == TargetState.RUNNING
    assert client.post(url("target-backout", failed.pk)).status_code == 302


@pytest.mark.parametrize("role", [roles.READ_ONLY, roles.SERVICE_DESK])
def test_others_cannot_act_on_targets(as_role, client, release, make_user, role):
    make_user(roles.RELEASE_MANAGER)
    failed = deployed(release, failure_rate=1.0).targets.filter(state="failed").first()
    as_role(role)
    assert client.post(url("target-retry", failed.pk)).status_code == 403
    assert client.post(url("target-backout", failed.pk)).status_code == 403
    failed.refresh_from_db()
    assert failed.state == TargetState.FAILED
    assert client.get(url("targets")).status_code == 403


def test_the_ci_page_lists_the_deployments_touching_it(as_role, client, release, make_user):
    make_user(roles.RELEASE_MANAGER)
    target = deployed(release).targets.first()
    as_role(roles.READ_ONLY)
    page = client.get(reverse("cmdb:ci-detail", args=[target.ci_id])).content.decode()
    assert 'id="deployments-card"' in page and release.number in page


def test_the_progress_fragment_costs_the_same_whatever_the_size(
    as_role, client, make_cis, make_user
):
    make_user(roles.RELEASE_MANAGER)
    make_cis(3)
    small = make_release(wave_plan=TWO_WAVES_AUTO)
    deployed(small)
    make_cis(12)
    big = make_release(wave_plan=TWO_WAVES_AUTO)
    assert deployed(big).targets.count() == 15
    as_role(roles.READ_ONLY)
    count = measure(client, url("release-progress", big.pk))
    assert measure(client, url("release-progress", small.pk)) == count
    assert_pinned("ui.release_progress", count)


# --- the software library ---------------------------------------------------------------------


def test_an_upload_shows_its_sha256_and_bad_input_writes_nothing(as_role, client):
    as_role(roles.RELEASE_MANAGER)
    body = b"installer bytes"
    data = {"name": "tool", "version": "1.0", "author": "Acme", "source": "vendor", "licence": ""}
    response = client.post(
        url("artifact-create"), {**data, "file": SimpleUploadedFile("t.deb", body)}
    )
    assert response.status_code == 200 and "This field is required." in response.content.decode()
    assert not SoftwareArtifact.objects.exists()
    data["licence"] = "MIT"
    response = client.post(
        url("artifact-create"), {**data, "file": SimpleUploadedFile("t.deb", body)}, follow=True
    )
    assert hashlib.sha256(body).hexdigest() in response.content.decode()
    # The same name and version again: a new version is asked for, nothing replaced.
    response = client.post(
        url("artifact-create"), {**data, "file": SimpleUploadedFile("t.deb", b"other")}
    )
    assert "add a new version" in response.content.decode()
    assert SoftwareArtifact.objects.count() == 1
    # "New version" starts from the properties of the existing one.
    artifact = SoftwareArtifact.objects.get()
    form = client.get(url("artifact-create"), {"from": artifact.pk}).content.decode()
    assert 'value="Acme"' in form


@pytest.mark.parametrize("role", [roles.DEPLOYMENT_TECHNICIAN, roles.READ_ONLY])
def test_others_cannot_upload(as_role, client, role):
    as_role(role)
    data = {"name": "t", "version": "1", "author": "a", "source": "s", "licence": "MIT"}
    response = client.post(url("artifact-create"), {**data, "file": SimpleUploadedFile("t", b"x")})
    assert response.status_code == 403
    assert not SoftwareArtifact.objects.exists()


def test_a_release_manager_signs_off_the_pilot_and_backs_out_a_target(as_role, client, make_cis):
    make_cis(3)
    release = make_release()  # the default plan: a pilot, then the rest, both signed off
    manager = as_role(roles.RELEASE_MANAGER)
    deployment = services.deployment_start(
        context=ctx(manager), release_id=release.pk, executor="simulated"
    )
    run_until_quiet(deployment.pk)
    pilot = deployment.waves.order_by("order").first()
    pilot.refresh_from_db()
    assert pilot.status == "waiting"
    page = client.get(url("release-detail", release.pk)).content.decode()
    assert f"Sign off {pilot.name}" in page
    client.post(url("wave-sign-off", release.pk, pilot.pk))
    pilot.refresh_from_db()
    assert pilot.status == "succeeded" and pilot.signed_off_by == manager
    target = pilot.targets.get()
    client.post(url("backout", release.pk), {"target": target.pk})
    target.refresh_from_db()
    assert target.state in (TargetState.BACKING_OUT, TargetState.BACKED_OUT)
