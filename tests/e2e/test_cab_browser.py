"""A CAB member approves an RFC from their CAB page, as a user would, at desktop and phone width:
the row turns into the outcome without a reload, the RFC leaves the queue and, once the quorum
is reached, is approved."""

from __future__ import annotations

import pytest

from changes import services
from changes.choices import ChangeStatus
from changes.models import ApprovalBody, Change, Vote
from itsm import roles
from tests.changes.conftest import ctx, restore_change_defaults
from tests.factories import CIFactory, CITypeFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "Browser-Test-1"
WIDTHS = [1280, 390]


@pytest.fixture
def waiting(make_user):
    """Two RFCs submitted to the CAB; one member has approved the first already."""
    if not ApprovalBody.objects.exists():
        restore_change_defaults()
    requester = make_user(roles.SERVICE_DESK)
    members = [make_user(roles.CAB_MEMBER) for _ in range(2)]
    member = make_user(roles.CAB_MEMBER, username="carla", password=PASSWORD)
    ci_type = CITypeFactory(name="Server", slug="server")
    changes = []
    for title in ("Patch the mail relay", "Resize the file share"):
        change = services.change_create(
            context=ctx(requester),
            title=title,
            cis=[CIFactory(ci_type=ci_type)],
            implementation_plan="Apply the patch.",
            backout_plan="Remove the patch.",
        )
        changes.append(services.change_submit(context=ctx(requester), change=change))
    services.change_vote(context=ctx(members[0]), change=changes[0], decision="approve")
    return member, changes


def log_in(page, live_server, width: int, path: str) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server.url}{path}")
    page.fill("#id_username", "carla")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}{path}")
    page.wait_for_load_state("load")


def fits(page, width: int) -> None:
    assert page.evaluate("document.scrollingElement.scrollWidth") <= width


@pytest.mark.parametrize("width", WIDTHS)
def test_a_cab_member_approves_an_rfc_from_their_page(live_server, page, waiting, width):
    member, (first, second) = waiting
    log_in(page, live_server, width, "/changes/cab/")
    fits(page, width)
    row = page.locator(f"#cab-row-{first.pk}")
    assert "Apply the patch." in row.inner_text() or row.locator("summary").count()
    page.evaluate("window.__notReloaded = true")  # a reload would drop this
    row.locator("input[name=comment]").fill("Low risk, go ahead")
    row.locator("button[value=approve]").click()
    done = page.locator(f"#cab-row-{first.pk}.cab-done")
    done.wait_for()
    assert "You approved" in done.inner_text()
    assert done.locator("[data-status=approved]").count() == 1
    assert page.evaluate("window.__notReloaded") is True
    # The other RFC still waits, with its buttons.
    assert page.locator(f"#cab-row-{second.pk} button[value=approve]").count() == 1
    assert page.locator(f"#cab-row-{first.pk} button").count() == 0
    assert Change.objects.get(pk=first.pk).status == ChangeStatus.APPROVED
    assert Vote.objects.get(change=first, voter=member).comment == "Low risk, go ahead"
    fits(page, width)
    # Opened again, the page no longer lists it.
    page.goto(f"{live_server.url}/changes/cab/")
    page.wait_for_load_state("load")
    assert page.locator(f"#cab-row-{first.pk}").count() == 0
    assert page.locator(f"#cab-row-{second.pk}").count() == 1
    assert not page.console_errors


def test_a_requester_raises_and_submits_an_rfc_without_reloads(live_server, page, make_user):
    """The RFC form picks CIs with Tom Select; on the RFC page a refused submit shows why
    in place, and the submit after the fix moves the RFC without a reload."""
    if not ApprovalBody.objects.exists():
        restore_change_defaults()
    make_user(roles.SERVICE_DESK, username="carla", password=PASSWORD)
    [make_user(roles.CAB_MEMBER) for _ in range(2)]
    ci_type = CITypeFactory(name="Server", slug="server")
    CIFactory(ci_type=ci_type, name="mail-relay-01")
    log_in(page, live_server, 1280, "/changes/new/")
    page.fill("#id_title", "Patch the mail relay")
    page.locator("#change-form .ts-control").first.click()
    page.keyboard.type("relay")
    page.locator(".ts-dropdown .option", has_text="mail-relay-01").click()
    page.keyboard.press("Escape")
    page.click("#change-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/changes/*/")
    page.wait_for_load_state("load")
    change = Change.objects.get()
    assert [ci.name for ci in change.cis.all()] == ["mail-relay-01"]
    page.evaluate("window.__notReloaded = true")
    page.click("#action-submit button")
    page.locator("#action-error").wait_for()
    assert "implementation plan" in page.inner_text("#action-error")  # refused: no plans
    assert Change.objects.get().status == ChangeStatus.DRAFT
    Change.objects.filter(pk=change.pk).update(
        implementation_plan="Apply the patch.", backout_plan="Remove it."
    )
    page.click("#action-submit button")
    page.locator("#change-status", has_text="Submitted").wait_for()
    assert page.evaluate("window.__notReloaded") is True
    assert Change.objects.get().status == ChangeStatus.SUBMITTED
    # The refused submit answered 400 (the browser logs that); nothing else went wrong.
    assert not [e for e in page.console_errors if "status of 400" not in e]
