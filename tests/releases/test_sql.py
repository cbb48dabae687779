"""The engine's plain SQL (releases/sql.py) gives the ORM path's answer: the same rows moved,
the same columns written, the same event rows, and the same refusals. Each case runs twice on
PostgreSQL, once per path, on deployments built alike; on SQLite the ORM path alone runs (the
rest of the suite covers it)."""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from unittest import mock

import pytest
from django.db import connection
from django.utils import timezone

from releases import services, sql
from releases.choices import DeploymentStatus, StepState, TargetState, WaveStatus
from releases.engine import steps as engine_steps
from releases.engine.advance import advance
from releases.engine.transitions import transition
from releases.models import (
    Deployment,
    DeploymentEvent,
    DeploymentStep,
    DeploymentTarget,
    DeploymentWave,
    SimulatedExecution,
)
from tests.releases.conftest import SYSTEM, make_release

pytestmark = pytest.mark.django_db

ONE_WAVE = [{"name": "All", "selector": {}, "gate": {"kind": "automatic"}}]
STEP_COLUMNS = ("state", "version", "attempt", "lease_owner", "log", "result")


@contextmanager
def orm_path():
    with mock.patch.object(sql, "available", return_value=False):
        yield


def needs_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("the plain-SQL path is PostgreSQL's")


def started(make_cis, n: int = 2) -> Deployment:
    make_cis(n)
    release = make_release(wave_plan=ONE_WAVE)
    deployment = services.deployment_start(
        context=SYSTEM, release_id=release.pk, executor="simulated", simulation={}
    )
    advance(deployment.pk)
    deployment.refresh_from_db()
    return deployment


def first_steps(deployment: Deployment) -> list[DeploymentStep]:
    return list(DeploymentStep.objects.filter(deployment=deployment, order=1).order_by("target_id"))


def first_target_steps(deployment: Deployment) -> list[DeploymentStep]:
    target_id = first_steps(deployment)[0].target_id
    return list(DeploymentStep.objects.filter(target_id=target_id).order_by("order"))


def events(deployment: Deployment, since: int) -> list[tuple]:
    return list(
        DeploymentEvent.objects.filter(deployment=deployment, pk__gt=since)
        .order_by("pk")
        .values_list("object_type", "from_state", "to_state", "message", "data")
    )


def last_event_id() -> int:
    return DeploymentEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def row(step: DeploymentStep) -> tuple:
    fresh = DeploymentStep.objects.get(pk=step.pk)
    return (
        *(getattr(fresh, name) for name in STEP_COLUMNS),
        fresh.lease_expires_at is not None,
        fresh.started_at is not None,
    )


def both_paths(make_cis, act):
    """Run `act(deployment)` on a deployment through the SQL path, then on a twin through the
    ORM path; return both (result, step rows, events) for comparison."""
    needs_postgres()
    outcomes = []
    for use_orm in (False, True):
        deployment = started(make_cis)
        since = last_event_id()
        if use_orm:
            with orm_path():
                result = act(deployment)
        else:
            result = act(deployment)
        outcomes.append(
            (
                result,
                [row(s) for s in first_target_steps(deployment)],
                events(deployment, since),
            )
        )
    return outcomes


def claim(deployment, *, attempt=1):
    step = first_steps(deployment)[0]
    claimed = engine_steps.step_claim(step_id=step.pk, attempt=attempt, owner="worker-a")
    if claimed is None:
        return None
    return (
        claimed.state,
        claimed.version,
        claimed.lease_owner,
        claimed.target.ci_id == step.target.ci_id,
        claimed.target.state,
        claimed.deployment.executor,
        claimed.deployment.release.number == deployment.release.number,
    )


def test_a_claim_moves_the_same_row_and_writes_the_same_event(make_cis):
    by_sql, by_orm = both_paths(make_cis, claim)
    assert (
        by_sql[0]
        == by_orm[0]
        == (
            StepState.CLAIMED,
            2,
            "worker-a",
            True,
            TargetState.RUNNING,
            "simulated",
            True,
        )
    )
    assert by_sql[1] == by_orm[1]
    assert by_sql[2] == by_orm[2] == [("step", "pending", "claimed", "claimed by worker-a", {})]


def test_a_claim_for_an_old_attempt_claims_nothing_on_both_paths(make_cis):
    by_sql, by_orm = both_paths(make_cis, lambda d: claim(d, attempt=2))
    assert by_sql == by_orm
    assert by_sql[0] is None and by_sql[2] == []


def test_a_paused_deployment_lets_no_install_step_be_claimed_on_both_paths(make_cis):
    def paused_then_claim(deployment):
        Deployment.objects.filter(pk=deployment.pk).update(status=DeploymentStatus.PAUSED)
        return claim(deployment)

    by_sql, by_orm = both_paths(make_cis, paused_then_claim)
    assert by_sql == by_orm
    assert by_sql[0] is None


def test_a_step_waits_for_the_one_before_it_on_both_paths(make_cis):
    def claim_second(deployment):
        second = DeploymentStep.objects.filter(deployment=deployment, order=2).first()
        return engine_steps.step_claim(step_id=second.pk, attempt=1, owner="w") is not None

    by_sql, by_orm = both_paths(make_cis, claim_second)
    assert by_sql == by_orm
    assert by_sql[0] is False


def test_the_next_step_of_a_target_is_claimed_alike(make_cis):
    def run_first_then_claim_next(deployment):
        first = first_steps(deployment)[0]
        DeploymentStep.objects.filter(pk=first.pk).update(state=StepState.SUCCEEDED)
        target = first.target
        target.deployment = deployment
        following = engine_steps._claim_next(target, owner="worker-b").claimed
        return None if following is None else (following.order, following.state)

    by_sql, by_orm = both_paths(make_cis, run_first_then_claim_next)
    assert by_sql == by_orm
    assert by_sql[0] == (2, StepState.CLAIMED)


def test_the_next_step_that_cannot_be_claimed_is_named_alike(make_cis):
    """Paused: the target's next step is not claimed, and the answer names it (its message is
    then sent); every step done: nothing pending."""

    def paused_then_claim_next(deployment):
        first = first_steps(deployment)[0]
        DeploymentStep.objects.filter(pk=first.pk).update(state=StepState.SUCCEEDED)
        Deployment.objects.filter(pk=deployment.pk).update(status=DeploymentStatus.PAUSED)
        target = first.target
        target.deployment = deployment
        following, pending, _ = engine_steps._claim_next(target, owner="worker-b")
        second = DeploymentStep.objects.get(target=target, order=2)
        return following, pending == (second.pk, second.attempt)

    by_sql, by_orm = both_paths(make_cis, paused_then_claim_next)
    assert by_sql == by_orm
    assert by_sql[0] == (None, True) and by_sql[2] == []

    def all_done_then_claim_next(deployment):
        first = first_steps(deployment)[0]
        DeploymentStep.objects.filter(target_id=first.target_id).update(state=StepState.SUCCEEDED)
        target = first.target
        target.deployment = deployment
        return engine_steps._claim_next(target, owner="worker-b")[:2]

    by_sql, by_orm = both_paths(make_cis, all_done_then_claim_next)
    assert by_sql == by_orm
    assert by_sql[0] == (None, None)


def test_the_last_step_of_a_target_counts_the_unfinished_others_of_its_wave(make_cis):
    """PostgreSQL counts them in the claim (so the wave check after commit is skipped when
    it cannot be the last); the count stops at WAVE_OTHERS_COUNTED."""
    needs_postgres()
    deployment = started(make_cis, 3)
    first = first_steps(deployment)[0]
    DeploymentStep.objects.filter(target_id=first.target_id).update(state=StepState.SUCCEEDED)
    target = first.target
    target.deployment = deployment
    assert engine_steps._claim_next(target, owner="w") == (None, None, 2)
    others = DeploymentTarget.objects.filter(deployment=deployment).exclude(pk=target.pk)
    others.update(state=TargetState.SUCCEEDED)
    assert engine_steps._claim_next(target, owner="w") == (None, None, 0)
    with mock.patch.object(sql, "WAVE_OTHERS_COUNTED", 1):
        others.update(state=TargetState.RUNNING)
        assert engine_steps._claim_next(target, owner="w").wave_others == 1


def test_a_move_writes_the_same_columns_and_event(make_cis, make_user):
    user = make_user("signer")
    now = timezone.now().replace(microsecond=0)

    def moves(deployment):
        wave = DeploymentWave.objects.get(deployment=deployment)
        step = first_steps(deployment)[0]
        done = [
            transition(
                step,
                StepState.CLAIMED,
                where={"attempt": 1},
                event="claimed",
                updates={"lease_owner": "w", "lease_expires_at": now + dt.timedelta(minutes=5)},
            ),
            transition(
                step,
                StepState.SUCCEEDED,
                where={"attempt": 1, "lease_owner": "w"},
                event="done",
                data={"why": "a test"},
                updates={"log": "ok", "result": {"rc": 0}, "finished_at": now},
            ),
            # Refused: a stale version, and a condition that does not hold (the attempt).
            transition(first_steps(deployment)[1], StepState.CLAIMED, expected_version=99),
            transition(first_steps(deployment)[1], StepState.CLAIMED, where={"attempt": 7}),
            transition(
                wave,
                WaveStatus.WAITING,
                updates={"finished_at": now, "bake_until": now},
            ),
            transition(
                wave, WaveStatus.SUCCEEDED, updates={"signed_off_by": user, "signed_off_at": now}
            ),
        ]
        wave.refresh_from_db()
        return done, wave.status, wave.signed_off_by_id == user.pk, wave.version

    by_sql, by_orm = both_paths(make_cis, moves)
    assert by_sql == by_orm
    assert by_sql[0] == ([True, True, False, False, True, True], WaveStatus.SUCCEEDED, True, 4)
    assert ("step", "claimed", "succeeded", "done", {"why": "a test"}) in by_sql[2]


def test_a_row_written_with_a_move_is_written_only_if_it_moves_on_both_paths(make_cis):
    """The simulated executor's run row goes with the step's result: none for a refused move;
    its `auto_now_add` time filled in as the ORM does."""

    def moves_with_rows(deployment):
        step = first_steps(deployment)[0]
        row = (
            SimulatedExecution,
            {"step_id": step.pk, "attempt": 1, "worker": "w", "outcome": "x"},
        )
        before = timezone.now()
        done = [
            transition(step, StepState.CLAIMED, where={"attempt": 7}, with_row=row),
            transition(step, StepState.CLAIMED, where={"attempt": 1}, with_row=row),
        ]
        runs = list(
            SimulatedExecution.objects.filter(step=step).values_list(
                "attempt", "worker", "outcome", "at"
            )
        )
        return done, [(a, w, o, at >= before) for a, w, o, at in runs]

    by_sql, by_orm = both_paths(make_cis, moves_with_rows)
    assert by_sql == by_orm
    assert by_sql[0] == ([False, True], [(1, "w", "x", True)])


def test_statistics_are_refreshed_after_a_big_insert_only(make_cis):
    needs_postgres()
    assert sql.refresh_statistics(DeploymentStep, 0) is False
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [sql.STEP])
        known = max(float(cursor.fetchone()[0]), 0.0)
    assert sql.refresh_statistics(DeploymentStep, int(50 + 0.1 * known) + 1) is True
    assert sql.refresh_statistics(DeploymentStep, 10) is False


def test_the_prepared_claim_is_logged_like_any_query(make_cis, django_assert_num_queries):
    needs_postgres()
    deployment = started(make_cis)
    step = first_steps(deployment)[0]
    with django_assert_num_queries(1):
        assert engine_steps.step_claim(step_id=step.pk, attempt=1, owner="w") is not None
    # Run often enough to be prepared on this connection; still one query each, same answer.
    for other in first_steps(deployment)[1:]:
        with django_assert_num_queries(1):
            assert engine_steps.step_claim(step_id=other.pk, attempt=1, owner="w") is not None
    assert engine_steps.step_claim(step_id=step.pk, attempt=1, owner="w") is None


def test_the_prepared_statements_are_planned_once_for_any_values(make_cis):
    """PostgreSQL would otherwise plan a claim again for its values at every run when its
    generic plan looks dearer (≈ 1.9 ms a claim at 10,000 targets): the session is told to
    keep one plan (only our statements are prepared on the server)."""
    needs_postgres()
    deployment = started(make_cis)
    step = first_steps(deployment)[0]
    assert engine_steps.step_claim(step_id=step.pk, attempt=1, owner="w") is not None
    with connection.cursor() as cursor:
        cursor.execute("SHOW plan_cache_mode")
        assert cursor.fetchone()[0] == "force_generic_plan"
