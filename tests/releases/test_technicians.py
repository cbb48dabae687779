"""Deployment Technicians see and act on THEIR targets: a technician is put in charge of a wave
(from the wave plan, or by a Release Manager while the wave has not finished) or of one target;
"my targets" are those assigned to me or of CIs I own; a technician retries or backs out only
his targets and those nobody is assigned to, a Release Manager any. Refusals write nothing."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from itsm import roles
from itsm.models import AuditEntry
from releases import services
from releases.choices import DeploymentStatus, TargetState, WaveStatus
from releases.engine.local import run_until_quiet
from releases.models import Deployment, DeploymentEvent, DeploymentTarget, DeploymentWave, Release
from tests.permission_matrix import _row_counts
from tests.query_counts import assert_pinned, measure
from tests.releases.conftest import AUTO, ctx, make_release

pytestmark = pytest.mark.django_db

ONE_WAVE = [{"name": "All", "selector": {}, "gate": AUTO}]


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def people(make_user):
    return {
        "manager": make_user(roles.RELEASE_MANAGER, username="rita"),
        "alice": make_user(roles.DEPLOYMENT_TECHNICIAN, username="alice"),
        "bob": make_user(roles.DEPLOYMENT_TECHNICIAN, username="bob"),
        "carol": make_user(roles.DEPLOYMENT_TECHNICIAN, username="carol"),
        "reader": make_user(roles.READ_ONLY, username="reader"),
    }


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def unchanged(call):
    """Run `call`; assert no row was added or removed, and no target or wave changed."""
    before = _row_counts()
    targets = list(DeploymentTarget.objects.values().order_by("pk"))
    waves = list(DeploymentWave.objects.values().order_by("pk"))
    response = call()
    assert _row_counts() == before
    assert list(DeploymentTarget.objects.values().order_by("pk")) == targets
    assert list(DeploymentWave.objects.values().order_by("pk")) == waves
    return response


def failed_deployment(people, *, plan=None, n=3) -> Deployment:
    """Every target of the first wave failed (simulated failure rate 1): something to retry
    or back out. One CI more than `n` with a two-wave plan."""
    from tests.factories import CIFactory, CITypeFactory

    box = CITypeFactory(name="Workstation", slug="workstation")
    for _ in range(n + (len(plan) - 1 if plan else 0)):
        CIFactory(ci_type=box)
    release = make_release(wave_plan=plan or ONE_WAVE)
    deployment = services.deployment_start(
        context=ctx(people["manager"]),
        release_id=release.pk,
        executor="simulated",
        simulation={"failure_rate": 1.0, "step_delay_ms": 0},
    )
    deployment = run_until_quiet(deployment.pk)
    assert deployment.waves.get(order=1).targets.filter(state=TargetState.FAILED).count() == n
    return deployment


# --- assigning ---------------------------------------------------------------------------------


def test_the_wave_plan_names_the_technician_of_each_wave(people, make_cis):
    make_cis(3)
    release = make_release(
        wave_plan=[
            {"name": "Pilot", "selector": {"pilot": 1}, "gate": AUTO, "technician": "alice"},
            {"name": "Rest", "selector": {}, "gate": AUTO},
        ]
    )
    assert release.wave_plan[0]["technician"] == "alice"
    deployment = services.deployment_start(
        context=ctx(people["manager"]), release_id=release.pk, executor="agent"
    )
    pilot, rest = deployment.waves.order_by("order")
    assert pilot.technician == people["alice"] and rest.technician is None
    assert DeploymentEvent.objects.filter(
        object_type="wave", object_id=pilot.pk, kind="technician"
    ).exists()
    progress = api(people["reader"]).get(f"/api/v1/releases/{release.pk}/progress/").json()
    assert [w["technician"] for w in progress["waves"]] == ["alice", None]


@pytest.mark.parametrize(
    ("technician", "message"),
    [
        ("nobody-here", "No user"),
        ("reader", "neither an active Deployment Technician nor a Release Manager"),
        ("gone", "neither an active"),
        (42, "username"),
    ],
)
def test_a_wave_plan_with_a_bad_technician_is_refused(people, make_user, technician, message):
    make_user(roles.DEPLOYMENT_TECHNICIAN, username="gone", is_active=False)
    release = make_release(status="planning")
    plan = [{"name": "All", "selector": {}, "technician": technician}]
    client = api(people["manager"])
    answer = unchanged(
        lambda: client.patch(f"/api/v1/releases/{release.pk}/", {"wave_plan": plan}, format="json")
    )
    assert answer.status_code == 400 and message in str(answer.json())
    assert Release.objects.get(pk=release.pk).wave_plan == []


def test_deploy_with_a_bad_technician_in_its_waves_starts_nothing(people, make_cis):
    make_cis(2)
    release = make_release()
    client = api(people["manager"])
    body = {"executor": "agent", "waves": [{"name": "All", "technician": "reader"}]}
    answer = unchanged(
        lambda: client.post(f"/api/v1/releases/{release.pk}/deploy/", body, format="json")
    )
    assert answer.status_code == 400
    assert not Deployment.objects.exists()


def test_a_release_manager_assigns_and_changes_the_technician_of_a_wave(people, make_cis):
    make_cis(2)
    release = make_release(wave_plan=ONE_WAVE)
    deployment = services.deployment_start(
        context=ctx(people["manager"]), release_id=release.pk, executor="agent"
    )
    wave = deployment.waves.get()
    client = api(people["manager"])
    path = f"/api/v1/releases/{release.pk}/assign/"
    answer = client.post(path, {"wave": wave.pk, "technician": "alice"}, format="json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["waves"][0]["technician"] == "alice"
    assert (
        client.post(path, {"wave": wave.pk, "technician": "bob"}, format="json").status_code == 200
    )
    wave.refresh_from_db()
    assert wave.technician == people["bob"]
    # Who assigned whom, in the release log and the deployment's event log.
    entries = AuditEntry.objects.filter(kind="technician", actor=people["manager"]).order_by("id")
    assert [e.changes["technician"] for e in entries] == [
        {"old": None, "new": "alice"},
        {"old": "alice", "new": "bob"},
    ]
    assert entries[0].changes["wave"]["new"] == "All"
    assert DeploymentEvent.objects.filter(kind="technician", object_id=wave.pk).count() == 2
    # The same technician again writes nothing; null unassigns.
    unchanged(lambda: client.post(path, {"wave": wave.pk, "technician": "bob"}, format="json"))
    assert (
        client.post(path, {"wave": wave.pk, "technician": None}, format="json").status_code == 200
    )
    wave.refresh_from_db()
    assert wave.technician is None


def test_bad_assignments_answer_4xx_and_write_nothing(people, make_user, make_cis):
    make_cis(2)
    release = make_release(wave_plan=ONE_WAVE)
    deployment = services.deployment_start(
        context=ctx(people["manager"]), release_id=release.pk, executor="agent"
    )
    wave = deployment.waves.get()
    other = make_release(status="planning")
    manager, path = api(people["manager"]), f"/api/v1/releases/{release.pk}/assign/"

    def post(body, client=manager, to=path):
        return unchanged(lambda: client.post(to, body, format="json"))

    assert post({"wave": wave.pk, "technician": "nobody-here"}).status_code == 400
    refused = post({"wave": wave.pk, "technician": "reader"})
    assert refused.status_code == 400 and "technician" in refused.json()
    assert post({"wave": wave.pk}).status_code == 400  # technician missing
    assert post({"technician": "alice"}).status_code == 400  # wave missing
    wrong = f"/api/v1/releases/{other.pk}/assign/"
    assert post({"wave": wave.pk, "technician": "alice"}, to=wrong).status_code == 400
    # Only a Release Manager assigns.
    for who in ("alice", "reader"):
        body = {"wave": wave.pk, "technician": "alice"}
        assert post(body, client=api(people[who])).status_code == 403
    # A finished wave keeps its technician.
    DeploymentWave.objects.filter(pk=wave.pk).update(status=WaveStatus.SUCCEEDED)
    finished = post({"wave": wave.pk, "technician": "alice"})
    assert finished.status_code == 400 and "no longer change" in finished.json()["detail"]


def test_a_target_may_have_its_own_technician(people):
    deployment = failed_deployment(people)
    wave = deployment.waves.get()
    services.wave_assign_technician(
        context=ctx(people["manager"]), wave_id=wave.pk, technician="alice"
    )
    target = deployment.targets.order_by("pk").first()
    path = f"/api/v1/deployment-targets/{target.pk}/assign/"
    assert (
        unchanged(
            lambda: api(people["alice"]).post(path, {"technician": "bob"}, format="json")
        ).status_code
        == 403
    )
    answer = api(people["manager"]).post(path, {"technician": "bob"}, format="json")
    assert answer.status_code == 200
    assert answer.json()["technician"] == "bob" and answer.json()["target_technician"] == "bob"
    others = api(people["reader"]).get(f"/api/v1/deployment-targets/?wave={wave.pk}").json()
    by_id = {t["id"]: t["technician"] for t in others["results"]}
    assert by_id.pop(target.pk) == "bob" and set(by_id.values()) == {"alice"}
    # Bob acts on it, Alice (the wave's) no longer does.
    assert (
        api(people["alice"]).post(f"/api/v1/deployment-targets/{target.pk}/retry/").status_code
        == 403
    )
    assert (
        api(people["bob"]).post(f"/api/v1/deployment-targets/{target.pk}/retry/").status_code == 200
    )
    # Empty: back to the wave's technician.
    back = api(people["manager"]).post(path, {"technician": ""}, format="json").json()
    assert back["technician"] == "alice" and back["target_technician"] is None


# --- acting -----------------------------------------------------------------------------------


def test_a_technician_acts_only_on_his_targets(people):
    deployment = failed_deployment(people)
    services.wave_assign_technician(
        context=ctx(people["manager"]), wave_id=deployment.waves.get().pk, technician="alice"
    )
    first, second, third = deployment.targets.order_by("pk")
    # Bob is not Alice: refused with a clear message, nothing written.
    for action in ("retry", "backout"):
        refused = unchanged(
            lambda action=action: api(people["bob"]).post(
                f"/api/v1/deployment-targets/{first.pk}/{action}/"
            )
        )
        assert refused.status_code == 403
        assert "assigned to alice" in refused.json()["detail"]
    via_release = unchanged(
        lambda: api(people["bob"]).post(
            f"/api/v1/releases/{deployment.release_id}/backout/",
            {"target": first.pk},
            format="json",
        )
    )
    assert via_release.status_code == 403
    # Alice may; a Release Manager may act on any; Carol owns a CI, so that target is hers.
    assert (
        api(people["alice"]).post(f"/api/v1/deployment-targets/{first.pk}/retry/").status_code
        == 200
    )
    assert (
        api(people["manager"]).post(f"/api/v1/deployment-targets/{second.pk}/backout/").status_code
        == 200
    )
    third.ci.owner = people["carol"]
    third.ci.save(update_fields=["owner"])
    assert (
        api(people["carol"]).post(f"/api/v1/deployment-targets/{third.pk}/retry/").status_code
        == 200
    )
    states = dict(deployment.targets.values_list("pk", "state"))
    assert states == {
        first.pk: TargetState.RUNNING,
        second.pk: TargetState.BACKING_OUT,
        third.pk: TargetState.RUNNING,
    }


def test_any_technician_acts_on_a_wave_nobody_is_assigned_to(people):
    deployment = failed_deployment(people, n=1)
    target = deployment.targets.get()
    assert (
        api(people["bob"]).post(f"/api/v1/deployment-targets/{target.pk}/retry/").status_code == 200
    )


def test_the_service_refuses_for_the_ui_and_the_api_alike(people):
    from itsm.exceptions import PermissionDeniedError

    deployment = failed_deployment(people, n=1)
    services.wave_assign_technician(
        context=ctx(people["manager"]), wave_id=deployment.waves.get().pk, technician="alice"
    )
    target = deployment.targets.get()
    with pytest.raises(PermissionDeniedError):
        services.target_retry(context=ctx(people["bob"]), target_id=target.pk)
    with pytest.raises(PermissionDeniedError):
        services.target_backout(context=ctx(people["bob"]), target_id=target.pk)
    target.refresh_from_db()
    assert target.state == TargetState.FAILED


# --- the target list ---------------------------------------------------------------------------


def listed(client, query: str = "") -> set[int]:
    page = client.get(reverse("releases:targets") + query)
    assert page.status_code == 200
    return {t.pk for t in page.context["page"]}


def test_my_targets_are_the_default_for_a_technician(people, client):
    from tests.factories import CIFactory

    two_waves = [
        {"name": "Pilot", "selector": {"pilot": 1}, "gate": AUTO, "technician": "alice"},
        {"name": "Rest", "selector": {}, "gate": AUTO},
    ]
    deployment = failed_deployment(people, plan=two_waves, n=1)
    pilot_target = deployment.targets.get(wave__order=1)
    # The pilot failed: the second wave (nobody assigned) waits, its targets pending; Bob
    # owns the CI of one of them.
    rest = deployment.waves.get(order=2)
    loose = rest.targets.get()
    ci = CIFactory(ci_type=pilot_target.ci.ci_type, owner=people["bob"])
    owned = DeploymentTarget.objects.create(deployment=deployment, wave=rest, ci=ci)
    rest_targets = {loose.pk, owned.pk}

    client.force_login(people["alice"])
    assert listed(client) == {pilot_target.pk}
    page = client.get(reverse("releases:targets")).content.decode()
    assert 'value="mine" selected' in page and "Retry" in page
    client.force_login(people["bob"])
    assert listed(client) == {owned.pk}
    assert listed(client, "?whose=unassigned") == rest_targets
    everyone = client.get(reverse("releases:targets") + "?whose=all")
    assert {t.pk for t in everyone.context["page"]} == {pilot_target.pk, *rest_targets}
    # Bob sees Alice's failed target but no button to act on it.
    row = everyone.content.decode().split(f'data-target="{pilot_target.pk}"')[1].split("</tr>")[0]
    assert "Retry" not in row and "alice" in row
    assert listed(client, "?mine=1") == {owned.pk}  # the former "CIs I own" box
    # A Release Manager sees everyone's by default.
    client.force_login(people["manager"])
    assert listed(client) == {pilot_target.pk, *rest_targets}
    assert listed(client, "?whose=mine") == set()
    # The API filter is the same FilterSet.
    mine = api(people["bob"]).get("/api/v1/deployment-targets/?mine=true").json()
    assert [t["id"] for t in mine["results"]] == [owned.pk]
    assert loose.pk in listed(client, "?whose=unassigned")


def test_the_ui_refuses_another_technicians_target_with_a_message(people, client):
    deployment = failed_deployment(people, n=1)
    wave = deployment.waves.get()
    services.wave_assign_technician(
        context=ctx(people["manager"]), wave_id=wave.pk, technician="alice"
    )
    target = deployment.targets.get()
    client.force_login(people["bob"])
    answer = unchanged(
        lambda: client.post(
            reverse("releases:target-retry", args=[target.pk]), {"from": "targets"}, follow=True
        )
    )
    assert "assigned to alice" in answer.content.decode()
    # The release page shows the wave's technician and offers Bob no retry button.
    detail = client.get(reverse("releases:release-detail", args=[deployment.release_id]))
    html = detail.content.decode()
    assert "technician: <strong>alice</strong>" in html
    assert reverse("releases:target-retry", args=[target.pk]) not in html
    client.force_login(people["alice"])
    html = client.get(reverse("releases:release-detail", args=[deployment.release_id])).content
    assert reverse("releases:target-retry", args=[target.pk]).encode() in html


def test_a_release_manager_assigns_on_the_release_page(people, client):
    deployment = failed_deployment(people, n=1)
    wave = deployment.waves.get()
    release_id = deployment.release_id
    path = reverse("releases:wave-technician", args=[release_id, wave.pk])
    client.force_login(people["alice"])
    assert unchanged(lambda: client.post(path, {"technician": "alice"})).status_code == 403
    client.force_login(people["manager"])
    page = client.get(reverse("releases:release-detail", args=[release_id])).content.decode()
    assert 'id="technicians"' in page and 'value="alice"' in page and 'value="reader"' not in page
    answer = unchanged(lambda: client.post(path, {"technician": "reader"}, follow=True))
    assert "neither an active Deployment Technician" in answer.content.decode()
    client.post(path, {"technician": "bob"})
    wave.refresh_from_db()
    assert wave.technician == people["bob"]
    # And per target, from the target list.
    target = deployment.targets.get()
    client.post(
        reverse("releases:target-technician", args=[target.pk]),
        {"technician": "carol", "from": "targets"},
    )
    target.refresh_from_db()
    assert target.technician == people["carol"]
    # Once the deployment is cancelled, the waves are finished: no form any more.
    services.deployment_cancel(context=ctx(people["manager"]), release_id=release_id)
    assert Deployment.objects.get().status == DeploymentStatus.CANCELLED
    page = client.get(reverse("releases:release-detail", args=[release_id])).content.decode()
    assert 'id="technicians"' not in page


def test_the_target_list_costs_the_same_whatever_its_length(people, client):
    small = failed_deployment(people, n=2)
    services.wave_assign_technician(
        context=ctx(people["manager"]), wave_id=small.waves.get().pk, technician="alice"
    )
    client.force_login(people["manager"])
    url = reverse("releases:targets")
    few = measure(client, url)
    from tests.factories import CIFactory

    ci_type = small.targets.first().ci.ci_type
    wave = small.waves.get()
    for index in range(20):
        ci = CIFactory(ci_type=ci_type, owner=people["bob"] if index % 2 else None)
        target = DeploymentTarget.objects.create(deployment=small, wave=wave, ci=ci)
        if index % 3 == 0:
            DeploymentTarget.objects.filter(pk=target.pk).update(technician=people["carol"])
    assert measure(client, url) == few
    assert_pinned("ui.release_targets", few)
    client.force_login(people["bob"])
    assert measure(client, url + "?whose=all") == measure(client, url)
