"""A Release Manager, in the browser: opens a release in readiness, ticks the checklist, records
"go", starts a simulated deployment and watches its progress reach 100 % — the progress
fragment updates itself (htmx polling), the page is never reloaded."""

from __future__ import annotations

import pytest

from itsm import roles
from releases.choices import DeploymentStatus
from releases.engine.local import run_until_quiet
from releases.models import Deployment, ReadinessReview
from tests.factories import CIFactory, CITypeFactory
from tests.releases.conftest import TWO_WAVES_AUTO, make_release

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "Browser-Test-1"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def engine_by_hand(monkeypatch):
    """The deploy request only records the start (its first `advance` would otherwise run the
    whole deployment eagerly inside the request): the test drives the engine itself while the
    browser watches."""
    monkeypatch.setattr("releases.deployment_services.advance_later", lambda pk: None)


@pytest.mark.parametrize("width", [1280, 390])
def test_a_release_manager_approves_readiness_and_watches_the_deployment_finish(
    live_server,
    page,
    make_user,
    engine_by_hand,
    width,
):
    box = CITypeFactory(name="Workstation", slug="workstation")
    for _ in range(3):
        CIFactory(ci_type=box)
    release = make_release(go=False, wave_plan=TWO_WAVES_AUTO)
    make_user(roles.RELEASE_MANAGER, username="rita", password=PASSWORD)
    path = f"/releases/{release.pk}/"
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server.url}{path}")
    page.fill("#id_username", "rita")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}{path}")
    page.wait_for_load_state("load")
    assert page.inner_text("#no-deployment") == "Not deployed yet."

    # The readiness review: every checklist item, then "go".
    form = page.locator("#readiness-form")
    for item in ReadinessReview.CHECKLIST:
        form.locator(f"input[name={item}]").check()
    form.locator("input[name=decision][value=go]").check()
    form.locator("button[type=submit]").click()
    page.wait_for_load_state("load")
    assert page.inner_text("#readiness-decision") == "go"
    assert ReadinessReview.objects.get(release=release).decision == "go"

    # A simulated deployment without failures and a small delay.
    deploy = page.locator("#deploy-form")
    deploy.locator("select[name=executor]").select_option("simulated")
    deploy.locator("input[name=failure_rate]").fill("0")
    deploy.locator("input[name=step_delay_ms]").fill("50")
    deploy.locator("button[type=submit]").click()
    page.wait_for_load_state("load")
    progress = page.locator("#deployment-progress")
    assert progress.get_attribute("data-status") == DeploymentStatus.RUNNING
    assert progress.get_attribute("hx-trigger") == "every 2s"
    page.evaluate("window.__not_reloaded = true")

    deployment = Deployment.objects.get(release=release)
    assert deployment.simulation == {
        "failure_rate": 0.0,
        "step_delay_ms": 50,
        "seed": "",
        "simulated": True,
    }
    assert run_until_quiet(deployment.pk).status == DeploymentStatus.SUCCEEDED

    # The fragment polls itself to the end: 100 %, succeeded, and then stops polling.
    page.wait_for_selector('#deployment-progress[data-status="succeeded"]', timeout=20_000)
    progress = page.locator("#deployment-progress")
    assert progress.get_attribute("data-percent") == "100.0"
    assert progress.get_attribute("hx-trigger") is None
    assert page.locator("#overall-progress").get_attribute("aria-valuenow") == "100.0"
    assert page.evaluate("window.__not_reloaded") is True
    assert page.evaluate("document.scrollingElement.scrollWidth") <= width
    assert not page.console_errors, page.console_errors
    assert not page.failed_responses, page.failed_responses
