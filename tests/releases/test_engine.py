"""The deployment engine on one process: waves, gates, CMDB follow-up, halts, leases."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from cmdb.models import HistoryEntry
from cmdb.software_services import software_replace
from releases import services
from releases.choices import DeploymentStatus, ReleaseStatus, StepState, TargetState, WaveStatus
from releases.engine.advance import advance
from releases.engine.local import run_until_quiet
from releases.engine.steps import step_run
from releases.models import DeploymentEvent, DeploymentStep, DeploymentTarget, SimulatedExecution
from releases.selectors import release_progress
from tests.releases.conftest import SYSTEM, TWO_WAVES_AUTO, make_release

pytestmark = pytest.mark.django_db


def deploy(release, **simulation):
    return services.deployment_start(
        context=SYSTEM, release_id=release.pk, executor="simulated", simulation=simulation
    )


def installed(ci):
    return sorted(
        (s.software.product.name, s.software.version) for s in ci.installed_software.all()
    )


def test_a_simulated_deployment_runs_every_wave_and_the_cmdb_follows(make_cis):
    cis = make_cis(4)
    release = make_release(wave_plan=TWO_WAVES_AUTO)
    deployment = deploy(release)
    deployment = run_until_quiet(deployment.pk)
    assert deployment.status == DeploymentStatus.SUCCEEDED
    assert set(deployment.waves.values_list("status", flat=True)) == {WaveStatus.SUCCEEDED}
    assert set(deployment.targets.values_list("state", flat=True)) == {TargetState.SUCCEEDED}
    release.refresh_from_db()
    assert release.status == ReleaseStatus.DEPLOYED
    for ci in cis:
        assert installed(ci) == [("acme-agent", "2.0")]
        entry = HistoryEntry.objects.filter(ci=ci, kind="software").latest("at")
        assert entry.source == "release" and entry.source_ref == release.number
    # Every step ran exactly once; the pilot wave ran before the rest.
    assert SimulatedExecution.objects.count() == 4 * 3
    pilot, rest = deployment.waves.order_by("order")
    assert pilot.targets.count() == 1 and rest.targets.count() == 3
    assert pilot.finished_at <= rest.started_at
    change = release.changes.get()
    assert change.status == "implemented"
    progress = release_progress(release)
    assert progress["status"] == "succeeded" and progress["percent"] == 100
    assert [w["name"] for w in progress["waves"]] == ["Pilot", "Rest"]
    step = progress["waves"][0]["targets"][0]["steps"][0]
    assert set(step) >= {"name", "state", "attempt", "log"} and "[simulated]" in step["log"]


def test_conditional_step_skipped_when_the_patch_is_there(make_cis):
    (ci,) = make_cis(1)
    software_replace(
        context=SYSTEM, ci=ci, items=[{"name": "acme-agent", "vendor": "Acme", "version": "2.0"}]
    )
    release = make_release(
        wave_plan=[{"name": "All", "selector": {}, "gate": TWO_WAVES_AUTO[0]["gate"]}]
    )
    deployment = run_until_quiet(deploy(release).pk)
    assert deployment.status == DeploymentStatus.SUCCEEDED
    first = DeploymentStep.objects.get(order=1)
    assert first.state == StepState.SKIPPED and "already installed" in first.log


def test_a_manual_gate_waits_for_a_sign_off(make_cis, release_manager):
    make_cis(3)
    release = make_release()  # default plan: a pilot of one, signed off by a person
    deployment = run_until_quiet(deploy(release).pk)
    pilot, rest = deployment.waves.order_by("order")
    assert (pilot.status, rest.status) == (WaveStatus.WAITING, WaveStatus.PENDING)
    assert deployment.status == DeploymentStatus.RUNNING
    with pytest.raises(
        services.PermissionDeniedError if hasattr(services, "PermissionDeniedError") else Exception
    ):
        services.wave_sign_off(
            context=services.ChangeContext(actor=None) if False else _ctx_without_perm(),
            wave_id=pilot.pk,
        )
    services.wave_sign_off(context=SYSTEM.__class__(actor=release_manager), wave_id=pilot.pk)
    deployment = run_until_quiet(deployment.pk)
    rest.refresh_from_db()
    assert rest.status == WaveStatus.WAITING  # the last wave needs its sign-off too
    services.wave_sign_off(context=SYSTEM.__class__(actor=release_manager), wave_id=rest.pk)
    assert run_until_quiet(deployment.pk).status == DeploymentStatus.SUCCEEDED


def _ctx_without_perm():
    from django.contrib.auth.models import User

    from itsm.audit import ChangeContext

    return ChangeContext(actor=User.objects.create_user("nobody-x"))


def test_failures_below_the_threshold_halt_the_deployment(make_cis):
    make_cis(4)
    release = make_release(wave_plan=TWO_WAVES_AUTO)
    deployment = run_until_quiet(deploy(release, failure_rate=1.0).pk)
    assert deployment.status == DeploymentStatus.HALTED
    pilot, rest = deployment.waves.order_by("order")
    assert pilot.status == WaveStatus.HALTED and rest.status == WaveStatus.PENDING
    assert "succeeded" in deployment.reason
    assert not DeploymentStep.objects.filter(target__wave=rest).exists()


def test_new_incidents_on_the_wave_cis_halt_it_by_itself(make_cis):
    from incidents.models import Incident

    cis = make_cis(3)
    plan = [
        {
            "name": "Pilot",
            "selector": {"pilot": 1},
            "gate": {"kind": "automatic", "bake_minutes": 30, "max_new_incidents": 0},
        },
        {"name": "Rest", "selector": {}, "gate": {"kind": "automatic"}},
    ]
    release = make_release(wave_plan=plan)
    deployment = run_until_quiet(deploy(release).pk)
    pilot = deployment.waves.get(order=1)
    assert pilot.status == WaveStatus.WAITING  # baking
    incident = Incident.objects.create(title="Acme agent crashes", description="since the patch")
    incident.cis.add(cis[0])
    advance(deployment.pk)
    deployment.refresh_from_db()
    pilot.refresh_from_db()
    assert deployment.status == DeploymentStatus.HALTED and pilot.status == WaveStatus.HALTED
    assert "incident" in deployment.reason


def test_bake_time_is_a_column_checked_by_advance(make_cis):
    make_cis(2)
    plan = [
        {
            "name": "Pilot",
            "selector": {"pilot": 1},
            "gate": {"kind": "automatic", "bake_minutes": 30},
        },
        {"name": "Rest", "selector": {}, "gate": {"kind": "automatic"}},
    ]
    release = make_release(wave_plan=plan)
    deployment = run_until_quiet(deploy(release).pk)
    pilot = deployment.waves.get(order=1)
    assert pilot.status == WaveStatus.WAITING and pilot.bake_until > timezone.now()
    type(pilot).objects.filter(pk=pilot.pk).update(
        bake_until=timezone.now() - dt.timedelta(seconds=1)
    )
    assert run_until_quiet(deployment.pk).status == DeploymentStatus.SUCCEEDED


def test_a_step_message_delivered_twice_runs_once(make_cis):
    make_cis(1)
    release = make_release(
        wave_plan=[{"name": "All", "selector": {}, "gate": {"kind": "automatic"}}]
    )
    deployment = deploy(release)
    advance(deployment.pk)
    step = DeploymentStep.objects.get(order=1)
    assert step_run(step_id=step.pk, attempt=1) == StepState.SUCCEEDED
    assert step_run(step_id=step.pk, attempt=1).startswith("not claimable")
    assert step_run(step_id=step.pk, attempt=0).startswith("not claimable")
    assert SimulatedExecution.objects.filter(step=step).count() == 1


def test_a_paused_deployment_claims_nothing(make_cis, release_manager):
    make_cis(1)
    release = make_release(
        wave_plan=[{"name": "All", "selector": {}, "gate": {"kind": "automatic"}}]
    )
    deployment = deploy(release)
    advance(deployment.pk)
    services.deployment_pause(
        context=SYSTEM.__class__(actor=release_manager), release_id=release.pk
    )
    step = DeploymentStep.objects.get(order=1)
    assert step_run(step_id=step.pk, attempt=1).startswith("not claimable")
    services.deployment_resume(
        context=SYSTEM.__class__(actor=release_manager), release_id=release.pk
    )
    assert run_until_quiet(deployment.pk).status == DeploymentStatus.SUCCEEDED


def _expire(step):
    DeploymentStep.objects.filter(pk=step.pk).update(
        lease_expires_at=timezone.now() - dt.timedelta(seconds=1)
    )


def test_an_expired_lease_is_lost_and_an_idempotent_step_is_retried(make_cis):
    make_cis(1)
    release = make_release(
        wave_plan=[{"name": "All", "selector": {}, "gate": {"kind": "automatic"}}]
    )
    deployment = deploy(release)
    advance(deployment.pk)
    from releases.engine.steps import step_claim

    step = step_claim(
        step_id=DeploymentStep.objects.get(order=1).pk, attempt=1, owner="dead-worker"
    )
    assert step is not None
    _expire(step)
    advance(deployment.pk)
    step.refresh_from_db()
    assert (step.state, step.attempt) == (StepState.PENDING, 2)
    assert DeploymentEvent.objects.filter(
        object_type="step", object_id=step.pk, to_state="lost"
    ).exists()
    assert DeploymentEvent.objects.filter(object_type="target", to_state="lost").exists()
    # The dead worker's late result for attempt 1 is discarded.
    assert step_run(step_id=step.pk, attempt=1).startswith("not claimable")
    assert run_until_quiet(deployment.pk).status == DeploymentStatus.SUCCEEDED


def test_a_lost_non_idempotent_step_pauses_for_a_person(make_cis, technician, release_manager):
    make_cis(1)
    steps = [
        {
            "phase": "install",
            "name": "Migrate the database",
            "module": "shell",
            "idempotent": False,
        },
        {"phase": "backout", "name": "Restore", "module": "shell"},
    ]
    release = make_release(
        steps=steps, wave_plan=[{"name": "All", "selector": {}, "gate": {"kind": "automatic"}}]
    )
    deployment = deploy(release)
    advance(deployment.pk)
    from releases.engine.steps import step_claim

    step = step_claim(
        step_id=DeploymentStep.objects.get(order=1).pk, attempt=1, owner="dead-worker"
    )
    _expire(step)
    advance(deployment.pk)
    deployment.refresh_from_db()
    step.refresh_from_db()
    target = DeploymentTarget.objects.get()
    assert deployment.status == DeploymentStatus.PAUSED and "not idempotent" in deployment.reason
    assert step.state == StepState.LOST and target.state == TargetState.LOST
    services.target_retry(context=SYSTEM.__class__(actor=technician), target_id=target.pk)
    services.deployment_resume(
        context=SYSTEM.__class__(actor=release_manager), release_id=release.pk
    )
    assert run_until_quiet(deployment.pk).status == DeploymentStatus.SUCCEEDED
    step.refresh_from_db()
    assert step.attempt == 2


def test_backout_of_the_whole_release_restores_the_cmdb(make_cis, release_manager):
    cis = make_cis(3)
    software_replace(
        context=SYSTEM,
        ci=cis[0],
        items=[{"name": "acme-agent", "vendor": "Acme", "version": "1.0"}],
    )
    release = make_release(wave_plan=TWO_WAVES_AUTO)
    deployment = run_until_quiet(deploy(release).pk)
    assert installed(cis[0]) == [("acme-agent", "2.0")]
    services.deployment_backout(
        context=SYSTEM.__class__(actor=release_manager), release_id=release.pk
    )
    deployment = run_until_quiet(deployment.pk)
    assert deployment.status == DeploymentStatus.BACKED_OUT
    assert set(deployment.targets.values_list("state", flat=True)) == {TargetState.BACKED_OUT}
    assert installed(cis[0]) == [("acme-agent", "1.0")]
    assert installed(cis[1]) == []
    release.refresh_from_db()
    assert release.status == ReleaseStatus.BACKED_OUT
    entry = HistoryEntry.objects.filter(ci=cis[0], kind="software").latest("at")
    assert entry.source == "release" and entry.reason.startswith("Backed out")


def test_backout_of_one_target(make_cis, technician):
    cis = make_cis(2)
    release = make_release(
        wave_plan=[{"name": "All", "selector": {}, "gate": {"kind": "automatic"}}]
    )
    deployment = run_until_quiet(deploy(release).pk)
    target = DeploymentTarget.objects.get(ci=cis[1])
    services.target_backout(context=SYSTEM.__class__(actor=technician), target_id=target.pk)
    run_until_quiet(deployment.pk)
    target.refresh_from_db()
    assert target.state == TargetState.BACKED_OUT
    assert installed(cis[1]) == [] and installed(cis[0]) == [("acme-agent", "2.0")]


def test_a_finished_target_asks_whether_its_wave_is_done_only_when_it_may_be_the_last(
    make_cis, django_capture_on_commit_callbacks, django_assert_num_queries, monkeypatch
):
    """After a target's last step: none of the wave's others unfinished → advance at once;
    a few → ask again after commit (a concurrent finisher may have been the last); as many as
    counted → not the last, nothing asked."""
    from releases import sql
    from releases.engine import advance as engine_advance
    from releases.engine.steps import after_target_finished

    make_cis(3)
    deployment = deploy(make_release(wave_plan=TWO_WAVES_AUTO))
    advance(deployment.pk)
    target = DeploymentTarget.objects.filter(deployment=deployment).first()
    advanced: list[int] = []
    monkeypatch.setattr(engine_advance, "advance_later", advanced.append)

    with django_capture_on_commit_callbacks() as callbacks:
        after_target_finished(target, wave_others=sql.WAVE_OTHERS_COUNTED)
    assert callbacks == []

    with django_capture_on_commit_callbacks() as callbacks:
        after_target_finished(target, wave_others=0)
    with django_assert_num_queries(0):
        callbacks[0]()
    assert advanced == [deployment.pk]

    with django_capture_on_commit_callbacks() as callbacks:
        after_target_finished(target, wave_others=2)
    with django_assert_num_queries(1):
        callbacks[0]()  # the target itself is still running: not done
    assert advanced == [deployment.pk]


def test_the_steps_a_worker_recorded_say_what_the_cmdb_gets_as_a_read_would(make_cis):
    """The worker that ran a target's steps from the first knows their effects without
    reading them again; both give the same answer (a skipped step adds nothing)."""
    from releases.engine.cmdb_follow import effects_of

    cis = make_cis(2)
    software_replace(
        context=SYSTEM,
        ci=cis[0],
        items=[{"name": "acme-agent", "vendor": "Acme", "version": "2.0"}],
    )
    release = make_release(
        wave_plan=[{"name": "All", "selector": {}, "gate": TWO_WAVES_AUTO[0]["gate"]}]
    )
    deployment = run_until_quiet(deploy(release).pk)
    assert deployment.status == DeploymentStatus.SUCCEEDED
    for ci, expected in ((cis[0], False), (cis[1], True)):
        target = DeploymentTarget.objects.get(ci=ci)
        steps = list(DeploymentStep.objects.filter(target=target).order_by("-order"))
        read, known = effects_of(target.pk), effects_of(target.pk, steps=steps)
        assert read == known and bool(read.install) is expected
        assert target.recorded_state == (read.recorded() if read else {})
