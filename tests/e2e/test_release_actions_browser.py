"""Release Managers and Deployment Technicians at the release forms, in the browser: putting a
technician in charge of a wave (release page) or of one target (target list), the target list's
"whose" selector, the deployment window (shown, and the form starting from it), mark failed
(with a reason), cancel (with or without one) — and the controls a technician does not see. Each test logs in through the login form, types, chooses
and submits as a person would, then checks the page and the database (refusals write nothing).
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from itsm import roles
from itsm.audit import ChangeContext, entries_for
from releases import services
from releases.choices import DeploymentStatus, ReleaseStatus, TargetState
from releases.engine.advance import advance
from releases.engine.local import run_until_quiet
from releases.models import Deployment, DeploymentEvent, DeploymentTarget, DeploymentWave, Release
from tests.factories import CIFactory, CITypeFactory
from tests.releases.conftest import AUTO, make_release

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "Browser-Test-1"
WIDTHS = pytest.mark.parametrize("width", [1280, 390])
MESSAGE = "main > .alert[role=alert]"
DASH = "\u2013"  # between the two ends of a window shown


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def engine_by_hand(monkeypatch):
    """A request only records what it changed (the engine's next `advance` would otherwise run
    eagerly inside it): the test drives the engine itself."""
    monkeypatch.setattr("releases.deployment_services.advance_later", lambda pk: None)


@pytest.fixture
def people(make_user):
    def person(role, username, first_name=""):
        return make_user(role, username=username, password=PASSWORD, first_name=first_name)

    return {
        "rita": person(roles.RELEASE_MANAGER, "rita", "Rita"),
        "alice": person(roles.DEPLOYMENT_TECHNICIAN, "alice", "Alice"),
        "bob": person(roles.DEPLOYMENT_TECHNICIAN, "bob", "Bob"),
        "reader": person(roles.READ_ONLY, "reader"),
    }


def as_rita(people) -> ChangeContext:
    return ChangeContext(actor=people["rita"], source="api")


@pytest.fixture
def halted_pilot(people, engine_by_hand) -> Deployment:
    """Alice's pilot wave failed on its one CI (ws-pilot), so the deployment halted; the second
    wave (nobody assigned) waits with two pending targets, one on a CI Bob owns (ws-bobs)."""
    box = CITypeFactory(name="Workstation", slug="workstation")
    CIFactory(ci_type=box, name="ws-pilot")  # the first CI: the pilot's
    CIFactory(ci_type=box, name="ws-loose")
    CIFactory(ci_type=box, name="ws-bobs", owner=people["bob"])
    release = make_release(
        wave_plan=[
            {"name": "Pilot", "selector": {"pilot": 1}, "gate": AUTO, "technician": "alice"},
            {"name": "Rest", "selector": {}, "gate": AUTO},
        ]
    )
    deployment = services.deployment_start(
        context=as_rita(people),
        release_id=release.pk,
        executor="simulated",
        simulation={"failure_rate": 1.0, "step_delay_ms": 0},
    )
    deployment = run_until_quiet(deployment.pk)
    assert deployment.status == DeploymentStatus.HALTED
    assert deployment.targets.get(wave__order=1).state == TargetState.FAILED
    return deployment


@pytest.fixture
def running(people, engine_by_hand) -> Deployment:
    """A deployment under way on two CIs through the agent executor: nothing moves by itself
    (no agent), so the page shows it as it is."""
    box = CITypeFactory(name="Workstation", slug="workstation")
    for name in ("ws-one", "ws-two"):
        CIFactory(ci_type=box, name=name)
    release = make_release(wave_plan=[{"name": "All", "selector": {}, "gate": AUTO}])
    deployment = services.deployment_start(
        context=as_rita(people), release_id=release.pk, executor="agent"
    )
    advance(deployment.pk)
    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.RUNNING
    return deployment


@pytest.fixture
def paused(people, running) -> Deployment:
    """The running deployment, paused by Rita: every Release Manager control is offered."""
    services.deployment_pause(context=as_rita(people), release_id=running.release_id)
    running.refresh_from_db()
    assert running.status == DeploymentStatus.PAUSED
    return running


def log_in(page, live_server, username: str, path: str, width: int) -> None:
    """Open `path`, land on the login form, log in, and be back at `path`."""
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server.url}{path}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}{path}")
    page.wait_for_load_state("load")


def submit(page, button) -> None:
    """Press a submit button and wait for the page the server answers with."""
    with page.expect_navigation():
        button.click()
    page.wait_for_load_state("load")


def assert_clean(page, width: int) -> None:
    """No console error, no failed response, no sideways scrolling."""
    assert page.evaluate("document.scrollingElement.scrollWidth") <= width
    assert not page.console_errors, page.console_errors
    assert not page.failed_responses, page.failed_responses


def release_path(deployment: Deployment) -> str:
    return f"/releases/{deployment.release_id}/"


def shown_rows(page) -> set[str]:
    """The CI names of the rows the target list shows."""
    return set(page.locator("#target-table tbody tr[data-target] td:first-child").all_inner_texts())


def snapshot(deployment: Deployment) -> tuple:
    """What a refused move must leave as it was."""
    return (
        Deployment.objects.filter(pk=deployment.pk).values().get(),
        list(DeploymentWave.objects.filter(deployment=deployment).values().order_by("pk")),
        list(DeploymentTarget.objects.filter(deployment=deployment).values().order_by("pk")),
        DeploymentEvent.objects.filter(deployment=deployment).count(),
        Release.objects.filter(pk=deployment.release_id).values().get(),
        entries_for(deployment.release).count(),
    )


# --- technicians ---------------------------------------------------------------------------


@WIDTHS
def test_a_release_manager_puts_a_technician_in_charge_of_a_wave(
    live_server, page, people, halted_pilot, width
):
    deployment = halted_pilot
    pilot, rest = deployment.waves.order_by("order")
    log_in(page, live_server, "rita", release_path(deployment), width)
    assert page.inner_text(f'.wave[data-wave="{rest.pk}"] .wave-technician') == "technician: anyone"

    page.click("#technicians summary")
    form = page.locator(f'form.wave-technician-form[data-wave="{rest.pk}"]')
    form.locator("select[name=technician]").select_option(label="Bob (bob)")
    submit(page, form.get_by_role("button", name="Assign"))

    assert page.url.endswith(f"{release_path(deployment)}#technicians")
    assert page.inner_text(MESSAGE) == "Technician of the wave: bob."
    assert page.inner_text(f'.wave[data-wave="{rest.pk}"] .wave-technician') == "technician: bob"
    assert page.inner_text(f'.wave[data-wave="{pilot.pk}"] .wave-technician') == (
        "technician: alice"
    )
    assert page.input_value(f"#id_technician_{rest.pk}") == "bob"
    assert "technician · rita" in page.locator("#release-log li").first.inner_text()
    rest.refresh_from_db()
    pilot.refresh_from_db()
    assert (rest.technician, pilot.technician) == (people["bob"], people["alice"])
    latest = entries_for(deployment.release).first()
    assert latest.kind == "technician" and latest.actor == people["rita"]
    assert latest.changes["technician"] == {"old": None, "new": "bob"}
    event = DeploymentEvent.objects.filter(object_type="wave", object_id=rest.pk).latest("id")
    assert event.kind == "technician" and event.data == {"old": None, "new": "bob"}
    assert_clean(page, width)


@WIDTHS
def test_a_release_manager_assigns_a_technician_to_one_target_on_the_target_list(
    live_server, page, people, halted_pilot, width
):
    deployment = halted_pilot
    target = deployment.targets.get(ci__name="ws-loose")
    bobs = deployment.targets.get(ci__name="ws-bobs")
    log_in(page, live_server, "rita", "/releases/targets/", width)
    assert page.input_value("#id_whose") == "all"  # a Release Manager sees everyone's
    assert shown_rows(page) == {"ws-pilot", "ws-loose", "ws-bobs"}
    row = page.locator(f'#target-table tr[data-target="{target.pk}"]')

    # Someone who is no technician: refused with a message, nothing written.
    before = snapshot(deployment)
    row.locator("input[name=technician]").fill("reader")
    submit(page, row.get_by_role("button", name="Assign"))
    assert page.inner_text(MESSAGE) == (
        "“reader” is neither an active Deployment Technician nor a Release Manager."
    )
    assert snapshot(deployment) == before

    row.locator("input[name=technician]").fill("bob")
    submit(page, row.get_by_role("button", name="Assign"))
    assert page.url == f"{live_server.url}/releases/targets/"
    assert page.inner_text(MESSAGE) == "Technician of the target: bob."
    assert row.locator("input[name=technician]").input_value() == "bob"
    other = page.locator(f'#target-table tr[data-target="{bobs.pk}"] input[name=technician]')
    assert other.input_value() == ""
    target.refresh_from_db()
    assert target.technician == people["bob"]
    assert target.wave.technician is None  # the wave keeps nobody
    latest = entries_for(deployment.release).first()
    assert latest.kind == "technician" and latest.changes["technician"] == {
        "old": None,
        "new": "bob",
    }
    assert_clean(page, width)


@WIDTHS
def test_a_technician_sees_his_targets_and_chooses_whose_in_the_selector(
    live_server, page, people, halted_pilot, width
):
    log_in(page, live_server, "alice", "/releases/targets/", width)
    # Mine by default: the pilot is her wave; she may retry its failed target.
    assert page.input_value("#id_whose") == "mine"
    assert shown_rows(page) == {"ws-pilot"}
    assert page.locator("#target-table").get_by_role("button", name="Retry").count() == 1

    # The selector submits itself when a choice is made.
    with page.expect_navigation():
        page.select_option("#id_whose", label="Nobody assigned")
    assert "whose=unassigned" in page.url
    assert page.input_value("#id_whose") == "unassigned"
    assert shown_rows(page) == {"ws-loose", "ws-bobs"}

    with page.expect_navigation():
        page.select_option("#id_whose", label="Everyone's")
    assert "whose=all" in page.url
    assert page.input_value("#id_whose") == "all"
    assert shown_rows(page) == {"ws-pilot", "ws-loose", "ws-bobs"}
    # A technician assigns nobody: the technician column is text, not a form.
    assert page.locator("#target-table input[name=technician]").count() == 0
    pilot_row = page.locator("#target-table tr").filter(has_text="ws-pilot")
    assert pilot_row.locator("td.technician").inner_text() == "alice"
    assert_clean(page, width)


# --- the deployment window ---------------------------------------------------------------


def typed(value: dt.datetime) -> str:
    """A local time as a datetime-local input takes it."""
    return value.strftime("%Y-%m-%dT%H:%M")


@WIDTHS
def test_a_release_manager_gives_the_deployment_a_new_window(
    live_server, page, people, running, width, settings
):
    settings.TIME_ZONE = "Europe/Paris"  # the times typed are local ones, not UTC
    deployment = running
    tomorrow = (timezone.localtime() + dt.timedelta(days=1)).replace(
        hour=22, minute=30, second=0, microsecond=0
    )
    opens, closes = typed(tomorrow), typed(tomorrow + dt.timedelta(hours=3))
    log_in(page, live_server, "rita", release_path(deployment), width)

    page.click("#window-form summary")
    page.fill("#window-start", opens)
    page.fill("#window-end", closes)
    submit(page, page.locator("#window-form").get_by_role("button", name="Set window"))

    assert page.inner_text(MESSAGE) == "Deployment window set."
    assert "deployment · rita" in page.locator("#release-log li").first.inner_text()
    deployment.refresh_from_db()
    assert typed(timezone.localtime(deployment.window_start)) == opens
    assert typed(timezone.localtime(deployment.window_end)) == closes
    assert page.inner_text("#deployment-window-value") == (
        f"{opens.replace('T', ' ')} {DASH} {closes.replace('T', ' ')}"
    )
    # The engine's next round holds the wave until the window opens, and the page (polling)
    # says so.
    advance(deployment.pk)
    page.wait_for_selector('#deployment-progress[data-status="outside_window"]', timeout=20_000)
    assert page.inner_text("#deployment-reason").startswith(
        f"Waiting for the deployment window (opens {opens.replace('T', ' ')})."
    )
    assert_clean(page, width)


@WIDTHS
def test_a_window_ending_before_it_starts_is_refused_and_writes_nothing(
    live_server, page, people, running, width
):
    deployment = running
    tomorrow = (timezone.localtime() + dt.timedelta(days=1)).replace(
        hour=22, minute=30, second=0, microsecond=0
    )
    before = snapshot(deployment)
    log_in(page, live_server, "rita", release_path(deployment), width)

    page.click("#window-form summary")
    page.fill("#window-start", typed(tomorrow))
    page.fill("#window-end", typed(tomorrow - dt.timedelta(hours=1)))
    submit(page, page.locator("#window-form").get_by_role("button", name="Set window"))

    message = page.locator(MESSAGE)
    assert message.inner_text() == "The deployment window ends after it starts."
    assert "alert-danger" in message.get_attribute("class")
    assert page.get_attribute("#deployment-progress", "data-status") == "running"
    assert snapshot(deployment) == before
    deployment.refresh_from_db()
    assert (deployment.window_start, deployment.window_end) == (None, None)
    assert_clean(page, width)


def shown(value: dt.datetime) -> str:
    """A local time as the page shows it."""
    return value.strftime("%Y-%m-%d %H:%M")


@WIDTHS
def test_the_window_form_starts_from_the_current_window_and_changing_the_end_keeps_the_start(
    live_server, page, people, running, width, settings
):
    settings.TIME_ZONE = "Europe/Paris"
    deployment = running
    opens = (timezone.localtime() + dt.timedelta(days=1)).replace(
        hour=22, minute=30, second=0, microsecond=0
    )
    closes, later = opens + dt.timedelta(hours=3), opens + dt.timedelta(hours=5)
    services.deployment_set_window(
        context=as_rita(people),
        release_id=deployment.release_id,
        window_start=opens,
        window_end=closes,
    )
    log_in(page, live_server, "rita", release_path(deployment), width)

    # The page says which window the deployment has, in local time, and the form starts from it.
    assert page.inner_text("#deployment-window-value") == f"{shown(opens)} {DASH} {shown(closes)}"
    assert "(Europe/Paris time)" in page.inner_text("#deployment-window")
    page.click("#window-form summary")
    assert page.input_value("#window-start") == typed(opens)
    assert page.input_value("#window-end") == typed(closes)

    # She moves only the closing time: the opening time stays.
    page.fill("#window-end", typed(later))
    submit(page, page.locator("#window-form").get_by_role("button", name="Set window"))
    assert page.inner_text(MESSAGE) == "Deployment window set."
    deployment.refresh_from_db()
    assert deployment.window_start == opens and deployment.window_end == later
    assert page.inner_text("#deployment-window-value") == f"{shown(opens)} {DASH} {shown(later)}"
    page.click("#window-form summary")
    assert page.input_value("#window-start") == typed(opens)
    assert page.input_value("#window-end") == typed(later)

    # Clearing the opening time is a visible choice: the field is emptied, then sent.
    page.locator("#window-form").get_by_role("button", name="Clear “Opens” (that end open)").click()
    assert page.input_value("#window-start") == ""
    submit(page, page.locator("#window-form").get_by_role("button", name="Set window"))
    assert page.inner_text(MESSAGE) == "Deployment window set."
    deployment.refresh_from_db()
    assert deployment.window_start is None and deployment.window_end == later
    assert page.inner_text("#deployment-window-value") == f"until {shown(later)}, no start"
    page.click("#window-form summary")
    assert page.input_value("#window-start") == ""
    assert page.input_value("#window-end") == typed(later)
    assert_clean(page, width)


# --- ending a deployment --------------------------------------------------------------------


@WIDTHS
def test_mark_failed_needs_a_reason(live_server, page, people, halted_pilot, width):
    deployment = halted_pilot
    before = snapshot(deployment)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    log_in(page, live_server, "rita", release_path(deployment), width)
    form = page.locator("#fail-form")
    reason = form.locator("input[name=reason]")
    button = form.get_by_role("button", name="Mark failed")
    posts.clear()

    # Empty: the browser refuses to send the form (the field is required).
    button.click()
    assert reason.evaluate("input => input.validity.valueMissing") is True
    assert posts == [] and dialogs == []
    assert page.url == f"{live_server.url}{release_path(deployment)}"

    # Only spaces: sent, and refused by the server with a message; nothing written.
    reason.fill("   ")
    submit(page, button)
    assert dialogs == ["Mark this deployment failed? It ends here."]
    assert page.inner_text(MESSAGE) == "Say why the deployment failed."
    assert page.get_attribute("#deployment-progress", "data-status") == "halted"
    assert snapshot(deployment) == before

    reason.fill("Breaks printing")
    submit(page, button)
    assert page.inner_text(MESSAGE) == "Deployment marked failed."
    assert page.get_attribute("#deployment-progress", "data-status") == "failed"
    assert page.inner_text("#deployment-reason").startswith(
        "Marked failed by rita: Breaks printing"
    )
    assert page.locator("#fail-form").count() == 0
    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.FAILED
    assert deployment.reason.startswith("Marked failed by rita: Breaks printing")
    # The pilot changed its CI: the release stays deploying until it is backed out.
    assert Release.objects.get(pk=deployment.release_id).status == ReleaseStatus.DEPLOYING
    assert_clean(page, width)


@WIDTHS
def test_a_release_manager_cancels_a_deployment_after_confirming(
    live_server, page, people, paused, width
):
    deployment = paused
    before = snapshot(deployment)
    log_in(page, live_server, "rita", release_path(deployment), width)
    button = page.locator("#deployment-controls form[action$='/cancel/']").get_by_role(
        "button", name="Cancel"
    )
    dialogs: list[str] = []

    # Asked to confirm, she says no: nothing is sent, nothing written.
    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    button.click()
    assert dialogs == ["Cancel this deployment? Running steps finish; nothing new starts."]
    assert page.get_attribute("#deployment-progress", "data-status") == "paused"
    assert snapshot(deployment) == before

    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    submit(page, button)
    assert len(dialogs) == 2
    assert page.inner_text(MESSAGE) == "Deployment cancelled."
    assert page.get_attribute("#deployment-progress", "data-status") == "cancelled"
    assert page.inner_text("#deployment-reason") == "Cancelled by rita."
    assert page.locator("#deployment-controls form").count() == 0
    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.CANCELLED
    assert deployment.reason == "Cancelled by rita."
    # Nothing had changed on any CI: the release is back in readiness, its "go" standing.
    assert Release.objects.get(pk=deployment.release_id).status == ReleaseStatus.READINESS
    assert_clean(page, width)


@WIDTHS
def test_a_release_manager_cancels_a_deployment_with_a_reason(
    live_server, page, people, paused, width
):
    deployment = paused
    log_in(page, live_server, "rita", release_path(deployment), width)
    form = page.locator("#cancel-form")
    reason = form.locator("input[name=reason]")
    assert reason.get_attribute("placeholder") == "Why cancel (optional)"
    dialogs: list[str] = []
    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))

    reason.fill("Freeze moved to Friday")
    submit(page, form.get_by_role("button", name="Cancel"))
    assert dialogs == ["Cancel this deployment? Running steps finish; nothing new starts."]
    assert page.inner_text(MESSAGE) == "Deployment cancelled."
    assert page.get_attribute("#deployment-progress", "data-status") == "cancelled"
    assert page.inner_text("#deployment-reason") == "Cancelled by rita: Freeze moved to Friday"
    assert page.locator("#cancel-form").count() == 0
    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.CANCELLED
    assert deployment.reason == "Cancelled by rita: Freeze moved to Friday"
    assert Release.objects.get(pk=deployment.release_id).status == ReleaseStatus.READINESS
    assert_clean(page, width)


# --- who sees what ------------------------------------------------------------------------


RELEASE_MANAGER_CONTROLS = {
    "cancel": "#deployment-controls form[action$='/cancel/']",
    "cancel reason": "#cancel-form input[name=reason]",
    "mark failed": "#fail-form",
    "set window": "#window-form form[action$='/window/']",
    "wave technician": "#technicians form.wave-technician-form",
}


@WIDTHS
def test_a_technician_does_not_see_the_release_manager_controls(
    live_server, page, people, paused, width
):
    deployment = paused
    path = release_path(deployment)
    log_in(page, live_server, "alice", path, width)
    assert page.get_attribute("#deployment-progress", "data-status") == "paused"
    assert page.inner_text(".wave .wave-technician") == "technician: anyone"
    for what, selector in RELEASE_MANAGER_CONTROLS.items():
        assert page.locator(selector).count() == 0, what
    for name in ("Cancel", "Mark failed", "Set window", "Assign", "Resume"):
        assert page.get_by_role("button", name=name, exact=True).count() == 0, name
    assert page.locator("#deployment-controls, #technicians").count() == 0
    # The deployment's window is for everyone to read.
    assert page.inner_text("#deployment-window-value") == "none (any time)"
    assert_clean(page, width)

    # The same page for a Release Manager offers each of them.
    page.context.clear_cookies()
    log_in(page, live_server, "rita", path, width)
    for what, selector in RELEASE_MANAGER_CONTROLS.items():
        assert page.locator(selector).count() == 1, what
    assert_clean(page, width)
