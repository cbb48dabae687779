"""Deployment windows and change blackouts hold a wave under way, not only the next wave: when
the window closes (or a blackout starts on the wave's CIs) the deployment goes `outside_window`
— running steps finish, nothing new is claimed — and resumes by itself when it may go on,
unless a person paused it. A Release Manager may give it a new window."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from changes.models import Blackout
from itsm import roles
from itsm.audit import ChangeContext
from itsm.exceptions import ApplicationError, PermissionDeniedError
from releases import services
from releases.choices import DeploymentStatus, StepState, TargetState, WaveStatus
from releases.engine.advance import advance
from releases.engine.local import run_until_quiet
from releases.engine.steps import WORKER, record_result, step_claim, step_run
from releases.executors import StepResult
from releases.models import (
    Deployment,
    DeploymentEvent,
    DeploymentStep,
    DeploymentTarget,
    SimulatedExecution,
)
from tests.factories import CIFactory, CITypeFactory
from tests.releases.conftest import SYSTEM, make_release

pytestmark = pytest.mark.django_db
ALL = [{"name": "All", "selector": {}, "gate": {"kind": "automatic"}}]
TWO = [
    {"name": "Pilot", "selector": {"pilot": 1}, "gate": {"kind": "automatic"}},
    {"name": "Rest", "selector": {}, "gate": {"kind": "automatic"}},
]


@pytest.fixture(autouse=True)
def _one_step_per_run(settings):
    """These tests move one step at a time: a worker does not go on with the target's next."""
    settings.RELEASES_CHAIN_SECONDS = 0


def deploy(release):
    return services.deployment_start(
        context=SYSTEM, release_id=release.pk, executor="simulated", simulation={}
    )


def close_window(deployment, minutes_ago: int = 1):
    """The window ends while the wave runs (as time passes: the column, not a service)."""
    Deployment.objects.filter(pk=deployment.pk).update(
        window_end=timezone.now() - dt.timedelta(minutes=minutes_ago)
    )


def first_step(target):
    return DeploymentStep.objects.filter(target=target, state=StepState.PENDING).order_by("order")[
        0
    ]


def finish(step, ok: bool = True):
    """The worker holding `step` records its result (a step that was running)."""
    assert record_result(step=step, result=StepResult(ok=ok, log="done"), owner=WORKER)


def rm(user) -> ChangeContext:
    return ChangeContext(actor=user, source="api")


def status_of(deployment) -> str:
    return Deployment.objects.values_list("status", flat=True).get(pk=deployment.pk)


def test_a_window_closing_mid_wave_stops_new_claims_and_resumes_by_itself(
    make_cis, release_manager
):
    make_cis(2)
    release = make_release(wave_plan=ALL)
    deployment = deploy(release)
    advance(deployment.pk)
    one, two = DeploymentTarget.objects.order_by("pk")
    step_run(step_id=first_step(one).pk, attempt=1)  # target one: step 1 done
    running = step_claim(step_id=first_step(two).pk, attempt=1)  # target two: step 1 running
    assert running is not None
    close_window(deployment)

    done = advance(deployment.pk)
    assert done["status"] == DeploymentStatus.OUTSIDE_WINDOW
    deployment.refresh_from_db()
    assert "window closed" in deployment.reason and "resumes by itself" in deployment.reason
    # Nothing new is claimed; the step that was running finishes and is recorded.
    assert step_run(step_id=first_step(one).pk, attempt=1).startswith("not claimable")
    finish(running)
    runs = SimulatedExecution.objects.count()
    assert run_until_quiet(deployment.pk).status == DeploymentStatus.OUTSIDE_WINDOW
    assert SimulatedExecution.objects.count() == runs
    assert deployment.waves.get().status == WaveStatus.RUNNING
    # The progress answers the new status (the contract's values only grow).
    client = APIClient()
    client.force_authenticate(release_manager)
    progress = client.get(f"/api/v1/releases/{release.pk}/progress/").json()
    assert progress["status"] == "outside_window" and "window closed" in progress["reason"]

    # A Release Manager gives it a new window, open now: it goes on by itself.
    services.deployment_set_window(
        context=rm(release_manager),
        release_id=release.pk,
        window_start=None,
        window_end=timezone.now() + dt.timedelta(hours=2),
    )
    deployment = run_until_quiet(deployment.pk)
    assert deployment.status == DeploymentStatus.SUCCEEDED and deployment.reason == ""
    moves = list(
        DeploymentEvent.objects.filter(deployment=deployment, object_type="deployment")
        .order_by("id")
        .values_list("to_state", "message")
    )
    held = [m for to, m in moves if to == DeploymentStatus.OUTSIDE_WINDOW]
    resumed = [m for to, m in moves if to == DeploymentStatus.RUNNING and "by itself" in m]
    assert len(held) == 1 and "window closed" in held[0] and len(resumed) == 1
    # No step ran twice (one was run by the test's own "worker", the rest simulated).
    runs = list(SimulatedExecution.objects.values_list("step_id", "attempt"))
    assert len(runs) == len(set(runs)) == 2 * 3 - 1
    assert set(DeploymentStep.objects.values_list("state", flat=True)) == {StepState.SUCCEEDED}


def test_a_blackout_on_the_wave_cis_holds_it_until_it_ends(make_cis):
    cis = make_cis(2)
    other = CIFactory(ci_type=CITypeFactory(name="Router", slug="router"))
    release = make_release(wave_plan=ALL)
    deployment = deploy(release)
    advance(deployment.pk)
    now = timezone.now()
    # A blackout elsewhere does not hold it.
    elsewhere = Blackout.objects.create(
        name="Other freeze", start=now - dt.timedelta(hours=1), end=now + dt.timedelta(hours=1)
    )
    elsewhere.cis.add(other)
    assert advance(deployment.pk)["status"] == DeploymentStatus.RUNNING
    # One on a CI of the wave that still has work to do does.
    freeze = Blackout.objects.create(
        name="Payroll freeze", start=now - dt.timedelta(minutes=5), end=now + dt.timedelta(hours=1)
    )
    freeze.cis.add(cis[0])
    assert advance(deployment.pk)["status"] == DeploymentStatus.OUTSIDE_WINDOW
    deployment.refresh_from_db()
    assert "Payroll freeze" in deployment.reason
    assert run_until_quiet(deployment.pk).status == DeploymentStatus.OUTSIDE_WINDOW
    assert not SimulatedExecution.objects.exists()
    # The blackout ends: it goes on by itself, to the end.
    Blackout.objects.filter(pk=freeze.pk).update(end=timezone.now() - dt.timedelta(seconds=1))
    assert run_until_quiet(deployment.pk).status == DeploymentStatus.SUCCEEDED


def test_a_blackout_on_finished_targets_only_does_not_hold_the_wave(make_cis):
    cis = make_cis(2)
    release = make_release(wave_plan=ALL)
    deployment = deploy(release)
    advance(deployment.pk)
    done_target = DeploymentTarget.objects.get(ci=cis[0])
    for _ in range(3):
        step_run(step_id=first_step(done_target).pk, attempt=1)
    assert DeploymentTarget.objects.get(pk=done_target.pk).state == TargetState.SUCCEEDED
    now = timezone.now()
    freeze = Blackout.objects.create(
        name="Freeze", start=now - dt.timedelta(minutes=1), end=now + dt.timedelta(hours=1)
    )
    freeze.cis.add(cis[0])
    assert run_until_quiet(deployment.pk).status == DeploymentStatus.SUCCEEDED


def test_between_waves_outside_the_window_the_next_wave_waits_then_starts(make_cis):
    make_cis(3)
    release = make_release(wave_plan=TWO)
    deployment = deploy(release)
    advance(deployment.pk)
    pilot = DeploymentTarget.objects.get(wave__order=1)
    step_run(step_id=first_step(pilot).pk, attempt=1)
    step_run(step_id=first_step(pilot).pk, attempt=1)
    last = step_claim(step_id=first_step(pilot).pk, attempt=1)  # the pilot's last step runs
    close_window(deployment)
    assert advance(deployment.pk)["status"] == DeploymentStatus.OUTSIDE_WINDOW
    finish(last)  # the wave has drained: its gate passes, the next wave waits
    deployment = run_until_quiet(deployment.pk)
    assert deployment.status == DeploymentStatus.OUTSIDE_WINDOW
    assert deployment.waves.get(order=1).status == WaveStatus.SUCCEEDED
    assert deployment.waves.get(order=2).status == WaveStatus.PENDING
    assert "window closed" in deployment.reason
    Deployment.objects.filter(pk=deployment.pk).update(window_end=None)
    assert run_until_quiet(deployment.pk).status == DeploymentStatus.SUCCEEDED


def test_a_person_pause_is_never_lifted_by_the_engine(make_cis, release_manager):
    make_cis(1)
    release = make_release(wave_plan=ALL)
    deployment = deploy(release)
    advance(deployment.pk)
    close_window(deployment)
    assert advance(deployment.pk)["status"] == DeploymentStatus.OUTSIDE_WINDOW
    services.deployment_pause(context=rm(release_manager), release_id=release.pk, reason="Audit")
    Deployment.objects.filter(pk=deployment.pk).update(window_end=None)  # the window is open
    assert run_until_quiet(deployment.pk).status == DeploymentStatus.PAUSED
    assert not SimulatedExecution.objects.exists()
    # Only a person resumes it; outside the window again, the engine holds it again.
    close_window(deployment)
    services.deployment_resume(context=rm(release_manager), release_id=release.pk)
    assert run_until_quiet(deployment.pk).status == DeploymentStatus.OUTSIDE_WINDOW
    Deployment.objects.filter(pk=deployment.pk).update(window_end=None)
    assert run_until_quiet(deployment.pk).status == DeploymentStatus.SUCCEEDED


def test_resume_outside_the_window_is_refused_and_writes_nothing(make_cis, release_manager, client):
    make_cis(1)
    release = make_release(wave_plan=ALL)
    deployment = deploy(release)
    advance(deployment.pk)
    close_window(deployment)
    advance(deployment.pk)
    deployment.refresh_from_db()
    version, events = deployment.version, DeploymentEvent.objects.count()
    with pytest.raises(ApplicationError, match="resumes by itself"):
        services.deployment_resume(context=rm(release_manager), release_id=release.pk)
    api = APIClient()
    api.force_authenticate(release_manager)
    response = api.post(f"/api/v1/releases/{release.pk}/resume/")
    assert response.status_code == 400 and "new window" in response.json()["detail"]
    client.force_login(release_manager)
    page = client.post(reverse("releases:resume", args=[release.pk]), follow=True).content.decode()
    assert "resumes by itself" in page
    deployment.refresh_from_db()
    assert (deployment.version, DeploymentEvent.objects.count()) == (version, events)
    assert deployment.status == DeploymentStatus.OUTSIDE_WINDOW


def test_backout_steps_still_run_outside_the_window(make_cis, technician):
    make_cis(2)
    release = make_release(wave_plan=ALL)
    deployment = deploy(release)
    advance(deployment.pk)
    one = DeploymentTarget.objects.order_by("pk").first()
    for _ in range(3):
        step_run(step_id=first_step(one).pk, attempt=1)
    close_window(deployment)
    assert advance(deployment.pk)["status"] == DeploymentStatus.OUTSIDE_WINDOW
    services.target_backout(context=rm(technician), target_id=one.pk)
    deployment = run_until_quiet(deployment.pk)
    assert DeploymentTarget.objects.get(pk=one.pk).state == TargetState.BACKED_OUT
    assert deployment.status == DeploymentStatus.OUTSIDE_WINDOW


def test_a_lost_step_that_is_not_idempotent_pauses_it_outside_the_window(make_cis):
    make_cis(1)
    release = make_release(wave_plan=ALL)
    deployment = deploy(release)
    advance(deployment.pk)
    step = first_step(DeploymentTarget.objects.get())
    DeploymentStep.objects.filter(pk=step.pk).update(idempotent=False)
    assert step_claim(step_id=step.pk, attempt=1) is not None
    close_window(deployment)
    advance(deployment.pk)
    DeploymentStep.objects.filter(pk=step.pk).update(
        lease_expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    assert advance(deployment.pk)["status"] == DeploymentStatus.PAUSED
    assert "not idempotent" in Deployment.objects.get(pk=deployment.pk).reason


def test_a_new_window_bad_input_and_wrong_roles_write_nothing(make_cis, release_manager, make_user):
    make_cis(1)
    release = make_release(wave_plan=ALL)
    deployment = deploy(release)
    advance(deployment.pk)  # the wave is under way
    now = timezone.now()
    context = rm(release_manager)
    with pytest.raises(ApplicationError, match="ends after it starts"):
        services.deployment_set_window(
            context=context,
            release_id=release.pk,
            window_start=now + dt.timedelta(hours=2),
            window_end=now + dt.timedelta(hours=1),
        )
    with pytest.raises(ApplicationError, match="already ended"):
        services.deployment_set_window(
            context=context,
            release_id=release.pk,
            window_start=None,
            window_end=now - dt.timedelta(minutes=1),
        )
    with pytest.raises(PermissionDeniedError):
        services.deployment_set_window(
            context=rm(make_user(roles.DEPLOYMENT_TECHNICIAN)),
            release_id=release.pk,
            window_start=None,
            window_end=None,
        )
    api = APIClient()
    api.force_authenticate(release_manager)
    url = f"/api/v1/releases/{release.pk}/window/"
    assert api.post(url, {"window_end": "not a date"}, format="json").status_code == 400
    assert api.post(url, ["x"], format="json").status_code == 400
    deployment.refresh_from_db()
    assert (deployment.window_start, deployment.window_end) == (None, None)
    tech = APIClient()
    tech.force_authenticate(make_user(roles.DEPLOYMENT_TECHNICIAN))
    assert tech.post(url, {"window_end": None}, format="json").status_code == 403
    # A window that opens later holds the wave under way until then.
    opens = (now + dt.timedelta(hours=1)).isoformat()
    answer = api.post(url, {"window_start": opens, "window_end": None}, format="json")
    assert answer.status_code == 200
    assert advance(deployment.pk)["status"] == DeploymentStatus.OUTSIDE_WINDOW
    assert "opens" in Deployment.objects.get(pk=deployment.pk).reason
    # The change is in the release log, the deployment's events and each RFC's change log.
    log = api.get(f"/api/v1/releases/{release.pk}/log/").json()
    assert any("window_start" in e["changes"] for e in log["entries"])
    assert any("window set by" in e["message"] for e in log["events"])
    from itsm.audit import entries_for

    messages = [e.changes.get("message", "") for e in entries_for(release.changes.get())]
    assert any("window set by" in m for m in messages)
    # A finished deployment's window no longer matters.
    services.deployment_cancel(context=context, release_id=release.pk)
    with pytest.raises(ApplicationError, match="no longer matters"):
        services.deployment_set_window(
            context=context, release_id=release.pk, window_start=None, window_end=None
        )


def test_the_window_form_in_the_ui(make_cis, release_manager, client):
    make_cis(1)
    release = make_release(wave_plan=ALL)
    deployment = deploy(release)
    advance(deployment.pk)
    close_window(deployment)
    advance(deployment.pk)
    client.force_login(release_manager)
    page = client.get(reverse("releases:release-detail", args=[release.pk])).content.decode()
    assert 'data-status="outside_window"' in page and 'id="window-form"' in page
    assert reverse("releases:resume", args=[release.pk]) not in page  # it resumes by itself
    url = reverse("releases:deployment-window", args=[release.pk])
    response = client.post(url, {"window_end": "soon"}, follow=True)
    assert "window is invalid" in response.content.decode()
    assert Deployment.objects.get(pk=deployment.pk).window_end < timezone.now()
    later = timezone.localtime() + dt.timedelta(hours=3)
    response = client.post(url, {"window_end": later.strftime("%Y-%m-%dT%H:%M")}, follow=True)
    assert "Deployment window set." in response.content.decode()
    assert run_until_quiet(deployment.pk).status == DeploymentStatus.SUCCEEDED


# --- the window form on the release page ---------------------------------------------------

UTC = dt.UTC
DASH = "\u2013"  # between the two ends of a window shown


def window_of(deployment) -> tuple:
    return Deployment.objects.values_list("window_start", "window_end").get(pk=deployment.pk)


def window_snapshot(deployment) -> tuple:
    """What a refused window must leave as it was."""
    from itsm.audit import entries_for

    return (
        Deployment.objects.filter(pk=deployment.pk).values().get(),
        DeploymentEvent.objects.filter(deployment=deployment).count(),
        entries_for(deployment.release).count(),
    )


def shown_window(page: str) -> str:
    start = page.index('id="deployment-window-value">') + len('id="deployment-window-value">')
    return page[start : page.index("</span>", start)]


def window_input(page: str, name: str) -> str:
    import re

    found = re.search(rf'<input[^>]*name="{name}"[^>]*>', page)
    assert found, name
    return found.group(0)


@pytest.fixture
def paris(settings):
    settings.TIME_ZONE = "Europe/Paris"


def test_the_page_shows_the_deployment_window_in_local_time_and_fills_the_form(
    make_cis, release_manager, client, paris
):
    make_cis(1)
    release = make_release(wave_plan=ALL)
    deploy(release)
    detail = reverse("releases:release-detail", args=[release.pk])
    client.force_login(release_manager)
    page = client.get(detail).content.decode()
    assert shown_window(page) == "none (any time)"
    assert "value=" not in window_input(page, "window_start")
    assert "value=" not in window_input(page, "window_end")

    # 20:30 UTC is 22:30 in Paris (summer time), 23:00 UTC is 01:00 the next day.
    opens, closes = (
        dt.datetime(2031, 7, 1, 20, 30, tzinfo=UTC),
        dt.datetime(2031, 7, 1, 23, 0, tzinfo=UTC),
    )
    for start, end, shown in (
        (opens, closes, f"2031-07-01 22:30 {DASH} 2031-07-02 01:00"),
        (opens, None, "from 2031-07-01 22:30, no end"),
        (None, closes, "until 2031-07-02 01:00, no start"),
    ):
        services.deployment_set_window(
            context=rm(release_manager), release_id=release.pk, window_start=start, window_end=end
        )
        page = client.get(detail).content.decode()
        assert shown_window(page) == shown
        assert "(Europe/Paris time)" in page
        for name, value, typed in (
            ("window_start", start, 'value="2031-07-01T22:30"'),
            ("window_end", end, 'value="2031-07-02T01:00"'),
        ):
            field = window_input(page, name)
            assert (typed in field) if value else ("value=" not in field)


def test_the_window_form_keeps_what_is_left_as_shown(make_cis, release_manager, client, paris):
    make_cis(1)
    release = make_release(wave_plan=ALL)
    deployment = deploy(release)
    opens = dt.datetime(2031, 7, 1, 20, 30, 15, tzinfo=UTC)  # seconds the input does not show
    closes = dt.datetime(2031, 7, 1, 23, 0, tzinfo=UTC)
    services.deployment_set_window(
        context=rm(release_manager), release_id=release.pk, window_start=opens, window_end=closes
    )
    url = reverse("releases:deployment-window", args=[release.pk])
    client.force_login(release_manager)

    # Submitted as shown: the window stays to the second, nothing is written.
    before = window_snapshot(deployment)
    client.post(url, {"window_start": "2031-07-01T22:30", "window_end": "2031-07-02T01:00"})
    assert window_snapshot(deployment) == before

    # Only the end changed: the start stays as it was.
    response = client.post(
        url, {"window_start": "2031-07-01T22:30", "window_end": "2031-07-02T02:00"}, follow=True
    )
    assert "Deployment window set." in response.content.decode()
    assert window_of(deployment) == (opens, dt.datetime(2031, 7, 2, 0, 0, tzinfo=UTC))
    assert shown_window(response.content.decode()) == f"2031-07-01 22:30 {DASH} 2031-07-02 02:00"

    # The start emptied (the person's choice): that end is open.
    response = client.post(url, {"window_start": "", "window_end": "2031-07-02T02:00"}, follow=True)
    assert window_of(deployment) == (None, dt.datetime(2031, 7, 2, 0, 0, tzinfo=UTC))
    assert shown_window(response.content.decode()) == "until 2031-07-02 02:00, no start"


def test_the_window_form_does_not_overwrite_a_window_changed_since_the_page_was_shown(
    make_cis, release_manager, client, paris
):
    make_cis(1)
    release = make_release(wave_plan=ALL)
    deployment = deploy(release)
    opens = dt.datetime(2031, 7, 1, 20, 30, tzinfo=UTC)
    closes = dt.datetime(2031, 7, 1, 23, 0, tzinfo=UTC)
    services.deployment_set_window(
        context=rm(release_manager), release_id=release.pk, window_start=opens, window_end=closes
    )
    client.force_login(release_manager)
    page = client.get(reverse("releases:release-detail", args=[release.pk])).content.decode()
    shown = re.search(r'name="shown" value="([^"]*)"', page).group(1)
    assert shown == f"{opens.isoformat()}|{closes.isoformat()}"

    # Someone else moves the window while the page is open…
    later = dt.datetime(2031, 7, 2, 20, 30, tzinfo=UTC)
    services.deployment_set_window(
        context=rm(release_manager), release_id=release.pk, window_start=later, window_end=None
    )
    before = window_snapshot(deployment)
    # …then this page's form, changed only at its end, is refused: nothing is written.
    url = reverse("releases:deployment-window", args=[release.pk])
    response = client.post(
        url,
        {"window_start": "2031-07-01T22:30", "window_end": "2031-07-02T03:00", "shown": shown},
        follow=True,
    )
    assert "changed meanwhile: it is now 2031-07-02 22:30 to open" in response.content.decode()
    assert window_snapshot(deployment) == before

    # As the page now shows it, the same change goes through.
    fresh = f"{later.isoformat()}|"
    response = client.post(
        url,
        {"window_start": "2031-07-02T22:30", "window_end": "2031-07-03T03:00", "shown": fresh},
        follow=True,
    )
    assert "Deployment window set." in response.content.decode()
    assert window_of(deployment) == (later, dt.datetime(2031, 7, 3, 1, 0, tzinfo=UTC))


def test_the_window_form_refuses_bad_input_and_technicians_and_writes_nothing(
    make_cis, release_manager, make_user, client, paris
):
    make_cis(1)
    release = make_release(wave_plan=ALL)
    deployment = deploy(release)
    opens = dt.datetime(2031, 7, 1, 20, 30, tzinfo=UTC)
    services.deployment_set_window(
        context=rm(release_manager), release_id=release.pk, window_start=opens, window_end=None
    )
    url = reverse("releases:deployment-window", args=[release.pk])
    detail = reverse("releases:release-detail", args=[release.pk])
    before = window_snapshot(deployment)

    # A Deployment Technician sees the window, not the form, and may not set it.
    client.force_login(make_user(roles.DEPLOYMENT_TECHNICIAN))
    page = client.get(detail).content.decode()
    assert shown_window(page) == "from 2031-07-01 22:30, no end"
    assert 'id="window-form"' not in page
    assert client.post(url, {"window_start": "", "window_end": ""}).status_code == 403
    assert window_snapshot(deployment) == before

    client.force_login(release_manager)
    for data, said in (
        (
            {"window_start": "2031-07-01T22:30", "window_end": "soon"},
            "The window is invalid. Closes: Enter a valid date/time.",
        ),
        # 02:30 on the night the clocks go forward does not exist in Paris.
        (
            {"window_start": "2031-03-30T02:30", "window_end": ""},
            "The window is invalid. Opens: 2031-03-30 02:30:00 couldn",
        ),
        (
            {"window_start": "2031-07-01T22:30", "window_end": "2031-07-01T21:30"},
            "The deployment window ends after it starts.",
        ),
        ({"window_start": "", "window_end": "2020-01-01T10:00"}, "This window has already ended."),
    ):
        response = client.post(url, data, follow=True)
        assert said in response.content.decode(), data
        assert window_snapshot(deployment) == before, data
