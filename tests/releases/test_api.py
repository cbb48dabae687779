"""The release API end to end, and every refused input: 4xx, nothing written."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from releases.choices import ReleaseStatus
from releases.engine.local import run_until_quiet
from releases.models import Deployment, Release, SoftwareArtifact
from tests.permission_matrix import _row_counts
from tests.releases.conftest import (
    INSTALL_STEPS,
    TWO_WAVES_AUTO,
    approved_change,
    make_release,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def rm_api(release_manager):
    client = APIClient()
    client.force_authenticate(release_manager)
    return client


@pytest.fixture
def tech_api(technician):
    client = APIClient()
    client.force_authenticate(technician)
    return client


def unchanged(call):
    """Run `call`, assert nothing was written, return its response."""
    before = _row_counts()
    response = call()
    assert _row_counts() == before
    return response


def test_the_whole_workflow_through_the_api(rm_api, make_cis):
    make_cis(3)
    change = approved_change()
    artifact = rm_api.post(
        "/api/v1/software-library/",
        {
            "name": "acme-agent",
            "version": "2.0",
            "author": "Acme",
            "source": "https://acme.example/",
            "licence": "MIT",
            "file": SimpleUploadedFile("acme.deb", b"the bytes"),
        },
        format="multipart",
    )
    assert artifact.status_code == 201, artifact.content
    assert artifact.json()["sha256"] == hashlib.sha256(b"the bytes").hexdigest()
    assert artifact.json()["size"] == len(b"the bytes")
    package = rm_api.post(
        "/api/v1/release-packages/",
        {
            "name": "acme",
            "version": "2.0",
            "artifacts": [artifact.json()["id"]],
            "steps": INSTALL_STEPS,
        },
        format="json",
    )
    assert package.status_code == 201, package.content
    assert [s["phase"] for s in package.json()["steps"]] == [
        "install",
        "install",
        "verify",
        "backout",
    ]
    created = rm_api.post(
        "/api/v1/releases/",
        {
            "title": "Acme 2.0",
            "change_ids": [change.pk],
            "target_filter": {"ci_type": "workstation"},
            "wave_plan": TWO_WAVES_AUTO,
            "release_type": "minor",
            "priority": "high",
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["number"].startswith("REL-") and body["changes"] == [change.pk]
    assert body["targets"] == {"ci_type": "workstation"} and body["status"] == "planning"
    url = f"/api/v1/releases/{body['id']}/"
    assert rm_api.post(url + "start-build/").status_code == 200
    patched = rm_api.patch(url, {"package": package.json()["id"], "version": 2}, format="json")
    assert patched.status_code == 200, patched.content
    assert rm_api.post(url + "start-acceptance/").status_code == 200
    assert (
        rm_api.post(
            url + "test-results/",
            {"name": "lab", "environment": "test", "passed": True, "proves_backout": True},
            format="json",
        ).status_code
        == 201
    )
    assert rm_api.post(url + "start-readiness/").status_code == 200
    readiness = rm_api.get(url + "readiness/").json()
    assert readiness["related_changes_approved"] is True and readiness["decision"] == ""
    checklist = {
        k: True
        for k in (
            "deployment_order",
            "plans_signed_off",
            "resources",
            "communications",
            "training",
            "environment_ready",
        )
    }
    decided = rm_api.put(url + "readiness/", {**checklist, "decision": "go"}, format="json")
    assert decided.status_code == 200, decided.content
    assert decided.json()["decision"] == "go"
    deployed = rm_api.post(
        url + "deploy/",
        {"executor": "simulated", "simulation": {"failure_rate": 0.0, "step_delay_ms": 0}},
        format="json",
    )
    assert deployed.status_code == 201, deployed.content
    assert set(deployed.json()) >= {"status", "percent", "waves"}
    run_until_quiet(Deployment.objects.get().pk)
    progress = rm_api.get(url + "progress/").json()
    assert progress["status"] == "succeeded" and progress["percent"] == 100
    wave = progress["waves"][0]
    assert set(wave) >= {"name", "status", "percent", "targets"}
    assert set(wave["targets"][0]) >= {"ci", "state", "steps"}
    assert set(wave["targets"][0]["steps"][0]) >= {"name", "state", "attempt", "log"}
    assert Release.objects.get().status == ReleaseStatus.DEPLOYED
    log = rm_api.get(url + "log/").json()
    assert any("SIMULATED" in e["message"] for e in log["events"])
    assert rm_api.post(url + "close/").status_code == 200
    change.refresh_from_db()
    assert change.status == "reviewed"


def test_an_unapproved_rfc_is_refused(rm_api, make_cis):
    draft = approved_change(status="submitted")
    response = unchanged(
        lambda: rm_api.post(
            "/api/v1/releases/", {"title": "x", "change_ids": [draft.pk]}, format="json"
        )
    )
    assert response.status_code == 400 and "approved" in response.json()["detail"]
    release = make_release(status=ReleaseStatus.PLANNING)
    response = unchanged(
        lambda: rm_api.post(
            f"/api/v1/releases/{release.pk}/changes/", {"change": draft.pk}, format="json"
        )
    )
    assert response.status_code == 400


def test_deploy_without_go_is_refused(rm_api, make_cis):
    make_cis(1)
    release = make_release(go=False)
    response = unchanged(
        lambda: rm_api.post(
            f"/api/v1/releases/{release.pk}/deploy/", {"executor": "simulated"}, format="json"
        )
    )
    assert response.status_code == 400 and "go" in response.json()["detail"]


def test_a_pilot_needs_the_backout_proven(rm_api, make_cis):
    make_cis(1)
    release = make_release(proven=False)
    response = unchanged(
        lambda: rm_api.post(
            f"/api/v1/releases/{release.pk}/deploy/", {"executor": "simulated"}, format="json"
        )
    )
    assert response.status_code == 400 and "backout" in response.json()["detail"]


def test_a_second_start_while_running_is_409(rm_api, make_cis):
    make_cis(2)
    release = make_release()
    url = f"/api/v1/releases/{release.pk}/deploy/"
    assert rm_api.post(url, {"executor": "simulated"}, format="json").status_code == 201
    response = unchanged(lambda: rm_api.post(url, {"executor": "simulated"}, format="json"))
    assert response.status_code == 409


def test_the_wrong_role_cannot_deploy_or_decide(tech_api, make_cis):
    make_cis(1)
    release = make_release(go=False)
    for call in (
        lambda: tech_api.post(
            f"/api/v1/releases/{release.pk}/deploy/", {"executor": "simulated"}, format="json"
        ),
        lambda: tech_api.put(
            f"/api/v1/releases/{release.pk}/readiness/", {"decision": "go"}, format="json"
        ),
        lambda: tech_api.post(f"/api/v1/releases/{release.pk}/backout/", {}, format="json"),
    ):
        assert unchanged(call).status_code == 403


def test_a_checksum_that_does_not_match_is_refused(rm_api):
    response = unchanged(
        lambda: rm_api.post(
            "/api/v1/software-library/",
            {
                "name": "acme",
                "version": "1",
                "author": "a",
                "source": "s",
                "licence": "MIT",
                "sha256": "0" * 64,
                "file": SimpleUploadedFile("a.bin", b"bytes"),
            },
            format="multipart",
        )
    )
    assert response.status_code == 400 and "sha256" in response.json()


def test_library_entries_need_their_properties_and_are_never_replaced(rm_api):
    body = {
        "name": "acme",
        "version": "1",
        "author": "a",
        "source": "s",
        "licence": "MIT",
        "reference_url": "https://acme.example/acme-1.deb",
        "sha256": "a" * 64,
    }
    missing = unchanged(
        lambda: rm_api.post("/api/v1/software-library/", {**body, "licence": ""}, format="json")
    )
    assert missing.status_code == 400
    no_checksum = unchanged(
        lambda: rm_api.post("/api/v1/software-library/", {**body, "sha256": ""}, format="json")
    )
    assert no_checksum.status_code == 400
    assert rm_api.post("/api/v1/software-library/", body, format="json").status_code == 201
    again = unchanged(lambda: rm_api.post("/api/v1/software-library/", body, format="json"))
    assert again.status_code == 409
    artifact = SoftwareArtifact.objects.get()
    for method in ("put", "patch", "delete"):
        assert (
            getattr(rm_api, method)(
                f"/api/v1/software-library/{artifact.pk}/", body, format="json"
            ).status_code
            == 405
        )


def test_refused_moves_answer_400_and_change_nothing(rm_api, make_cis):
    release = make_release(status=ReleaseStatus.PLANNING)
    url = f"/api/v1/releases/{release.pk}/"
    for action in (
        "start-acceptance/",
        "start-readiness/",
        "close/" if False else "back-to-build/",
    ):
        response = unchanged(lambda action=action: rm_api.post(url + action))
        assert response.status_code == 400, action
    # planning → build needs an RFC.
    assert unchanged(lambda: rm_api.post(url + "start-build/")).status_code == 400
    # Deployment control without a deployment.
    for action in ("pause/", "resume/", "cancel/", "backout/"):
        assert (
            unchanged(
                lambda action=action: rm_api.post(url + action, {}, format="json")
            ).status_code
            == 400
        )


def test_pause_resume_cancel(rm_api, make_cis):
    make_cis(2)
    release = make_release(wave_plan=TWO_WAVES_AUTO)
    url = f"/api/v1/releases/{release.pk}/"
    assert rm_api.post(url + "deploy/", {"executor": "simulated"}, format="json").status_code == 201
    assert rm_api.post(url + "pause/").json()["status"] == "paused"
    assert unchanged(lambda: rm_api.post(url + "pause/")).status_code == 400
    assert rm_api.post(url + "resume/").json()["status"] == "running"
    assert rm_api.post(url + "cancel/").json()["status"] == "cancelled"
    # Nothing had run: the release is back in readiness and may be deployed again.
    assert Release.objects.get().status == ReleaseStatus.READINESS
    assert rm_api.post(url + "deploy/", {"executor": "simulated"}, format="json").status_code == 201


def test_unknown_query_parameters_and_bad_progress_caps(rm_api):
    assert rm_api.get("/api/v1/releases/?stauts=x").status_code == 400
    release = make_release(status=ReleaseStatus.PLANNING)
    assert rm_api.get(f"/api/v1/releases/{release.pk}/progress/?targets=x").status_code == 400
    assert rm_api.get(f"/api/v1/releases/{release.pk}/progress/").json()["status"] == "not_deployed"


def test_a_technician_retries_and_backs_out_a_target(rm_api, tech_api, make_cis):
    make_cis(2)
    release = make_release(
        wave_plan=[{"name": "All", "selector": {}, "gate": TWO_WAVES_AUTO[0]["gate"]}]
    )
    rm_api.post(
        f"/api/v1/releases/{release.pk}/deploy/",
        {"executor": "simulated", "simulation": {"failure_rate": 1.0}},
        format="json",
    )
    deployment = run_until_quiet(Deployment.objects.get().pk)
    assert deployment.status == "halted"
    target = deployment.targets.first()
    retried = tech_api.post(f"/api/v1/deployment-targets/{target.pk}/retry/")
    assert retried.status_code == 200 and retried.json()["state"] == "running"
    again = unchanged(lambda: tech_api.post(f"/api/v1/deployment-targets/{target.pk}/retry/"))
    assert again.status_code == 400
    other = deployment.targets.exclude(pk=target.pk).get()
    backed = tech_api.post(
        f"/api/v1/releases/{release.pk}/backout/", {"target": other.pk}, format="json"
    )
    assert backed.status_code == 200, backed.content
    other.refresh_from_db()
    assert other.state == "backing_out"
