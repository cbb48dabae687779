"""The RFC pages: list, create and edit, the RFC page and its actions (allowed moves, refused
moves show the reason and change nothing, permissions per role)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from changes import services
from changes.choices import ChangeStatus, ChangeType
from changes.models import Change, StandardChangeTemplate
from incidents.services import incident_open
from itsm import roles
from itsm.audit import ChangeContext, entries_for
from tests.changes.conftest import NOW, ctx
from tests.query_counts import assert_pinned, measure

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
DAY = NOW + dt.timedelta(days=10)
H = dt.timedelta(hours=1)
FMT = "%Y-%m-%dT%H:%M"


def action(client, change, name, **data):
    return client.post(reverse("changes:change-action", args=[change.pk, name]), data, **HX)


def logged_in(client, user):
    client.force_login(user)
    return client


# --- list ---------------------------------------------------------------------------------


def test_the_list_filters_searches_and_shows_my_rfcs(client, make_change, requester, make_user):
    other = make_user(roles.SERVICE_DESK)
    mine = make_change(title="Patch the mail relay")
    theirs = make_change(title="Swap a disk", by=other, change_type=ChangeType.EMERGENCY)
    logged_in(client, requester)
    url = reverse("changes:change-list")
    page = client.get(url).content.decode()
    assert mine.number in page and theirs.number in page
    assert theirs.number not in client.get(url, {"mine": "1"}).content.decode()
    assert mine.number not in client.get(url, {"q": "disk"}).content.decode()
    found = client.get(url, {"change_type": "emergency"}).content.decode()
    assert theirs.number in found and mine.number not in found
    assert client.get(url, {"status": "submitted"}).content.decode().count("RFC-") == 0
    partial = client.get(url, {"q": "relay"}, **HX)
    assert b"<html" not in partial.content and mine.number.encode() in partial.content


def test_a_bad_filter_answers_400(client, requester):
    logged_in(client, requester)
    assert client.get(reverse("changes:change-list"), {"status": "nonsense"}).status_code == 400


@pytest.mark.parametrize(
    "role, status", [(roles.READ_ONLY, 200), (roles.CAB_MEMBER, 200), (None, 403)]
)
def test_the_list_needs_the_view_permission(client, make_user, role, status):
    logged_in(client, make_user(role))
    assert client.get(reverse("changes:change-list")).status_code == status


# --- create and edit ----------------------------------------------------------------------


def form_data(ci, **extra):
    data = {
        "title": "Upgrade the firewall",
        "change_type": "normal",
        "category": "software_update",
        "reason": "security",
        "priority": "routine",
        "cis": [ci.pk],
        "implementation_plan": "Upgrade.",
        "backout_plan": "Roll back.",
        "planned_start": DAY.strftime(FMT),
        "planned_end": (DAY + H).strftime(FMT),
    }
    data.update(extra)
    return data


def test_a_draft_is_created_from_the_form(client, requester, make_ci):
    ci = make_ci("fw-01")
    logged_in(client, requester)
    response = client.post(reverse("changes:change-create"), form_data(ci))
    change = Change.objects.get()
    assert response.status_code == 302 and response.url == change.get_absolute_url()
    assert (change.status, change.originator, list(change.cis.all())) == (
        ChangeStatus.DRAFT, requester, [ci],
    )  # fmt: skip
    assert [e.kind for e in entries_for(change)] == ["created"]


def test_a_window_ending_before_it_starts_is_a_form_error(client, requester, make_ci):
    logged_in(client, requester)
    data = form_data(make_ci(), planned_end=(DAY - H).strftime(FMT))
    response = client.post(reverse("changes:change-create"), data)
    assert response.status_code == 400
    assert "The planned end must be after the planned start." in response.content.decode()
    assert not Change.objects.exists()


@pytest.mark.parametrize("role", [roles.CAB_MEMBER, roles.READ_ONLY])
def test_only_requesters_create(client, make_user, make_ci, role):
    logged_in(client, make_user(role))
    assert client.get(reverse("changes:change-create")).status_code == 403
    assert client.post(reverse("changes:change-create"), form_data(make_ci())).status_code == 403
    assert not Change.objects.exists()


def test_a_catalogue_template_prefills_the_form(client, requester):
    template = StandardChangeTemplate.objects.create(
        name="Add RAM", implementation_plan="Power off, add the DIMM.", backout_plan="Remove it."
    )
    logged_in(client, requester)
    page = client.get(reverse("changes:change-create"), {"template": template.pk}).content.decode()
    assert "Power off, add the DIMM." in page and 'value="standard" selected' in page
    answer = client.get(reverse("changes:template-prefill"), {"template": template.pk}).json()
    assert answer["backout_plan"] == "Remove it."


def test_the_originator_edits_a_draft(client, requester, make_change, make_ci):
    change = make_change()
    ci = make_ci("new-ci")
    logged_in(client, requester)
    url = reverse("changes:change-edit", args=[change.pk])
    assert client.get(url).status_code == 200
    data = form_data(ci, title="Renamed", version=change.version)
    assert client.post(url, data).status_code == 302
    change.refresh_from_db()
    assert change.title == "Renamed" and list(change.cis.all()) == [ci]


def test_a_stale_edit_is_refused(client, requester, make_change, make_ci):
    change = make_change()
    logged_in(client, requester)
    data = form_data(make_ci(), title="Renamed", version=change.version - 1)
    response = client.post(reverse("changes:change-edit", args=[change.pk]), data)
    assert response.status_code == 400 and "someone else" in response.content.decode()
    change.refresh_from_db()
    assert change.title == "Patch"


def test_someone_elses_draft_is_not_edited(client, make_user, make_change, make_ci):
    change = make_change()
    logged_in(client, make_user(roles.SERVICE_DESK))
    url = reverse("changes:change-edit", args=[change.pk])
    assert client.get(url).status_code == 403
    assert client.post(url, form_data(make_ci(), title="Mine now")).status_code == 403
    change.refresh_from_db()
    assert change.title == "Patch"


def test_a_submitted_rfc_is_not_edited(client, requester, submitted):
    change = submitted()
    logged_in(client, requester)
    response = client.get(reverse("changes:change-edit", args=[change.pk]))
    assert response.status_code == 302 and response.url == change.get_absolute_url()


# --- the RFC page and its moves -------------------------------------------------------------


def test_the_page_shows_the_rfc_and_only_the_allowed_moves(client, requester, make_change):
    change = make_change()
    logged_in(client, requester)
    page = client.get(change.get_absolute_url()).content.decode()
    assert change.number in page and "Do it." in page and "Undo it." in page
    assert 'id="action-submit"' in page and 'id="action-cancel"' in page
    assert 'id="action-close"' not in page and 'id="schedule-form"' not in page


def test_a_cab_member_sees_no_moves_on_a_draft(client, cab, make_change):
    change = make_change()
    logged_in(client, cab[0])
    page = client.get(change.get_absolute_url()).content.decode()
    assert "Nothing for you to do" in page and 'id="action-submit"' not in page


def test_submit_computes_impact_and_logs_it(client, requester, make_change, cab):
    change = make_change()
    logged_in(client, requester)
    response = action(client, change, "submit")
    assert response.status_code == 200 and b"<html" not in response.content
    change.refresh_from_db()
    assert change.status == ChangeStatus.SUBMITTED
    body = response.content.decode()
    assert "Submitted" in body and "Impact" in body and "submitted" in body


def test_a_refused_submit_shows_why_and_changes_nothing(client, requester, make_change, cab):
    change = make_change(implementation_plan="")
    logged_in(client, requester)
    response = action(client, change, "submit")
    assert response.status_code == 400
    body = response.content.decode()
    assert "cannot be submitted" in body and "implementation plan" in body
    change.refresh_from_db()
    assert change.status == ChangeStatus.DRAFT
    assert [e.kind for e in entries_for(change)] == ["created"]


def test_a_service_desk_user_may_not_close(client, requester, make_change):
    change = make_change()
    logged_in(client, requester)
    response = action(client, change, "close")
    assert response.status_code == 403
    change.refresh_from_db()
    assert change.status == ChangeStatus.DRAFT


def test_a_manager_closing_a_draft_is_refused_with_the_reason(client, manager, make_change):
    change = make_change()
    logged_in(client, manager)
    response = action(client, change, "close")
    assert response.status_code == 400
    assert "cannot move to closed" in response.content.decode()
    change.refresh_from_db()
    assert change.status == ChangeStatus.DRAFT


@pytest.mark.parametrize("role", [roles.CAB_MEMBER, roles.READ_ONLY])
def test_others_may_not_submit_or_cancel(client, make_user, make_change, role):
    change = make_change()
    logged_in(client, make_user(role))
    for name in ("submit", "cancel"):
        assert action(client, change, name).status_code == 403
    change.refresh_from_db()
    assert change.status == ChangeStatus.DRAFT


def test_an_unknown_action_is_404(client, requester, make_change):
    logged_in(client, requester)
    assert action(client, make_change(), "explode").status_code == 404


def test_cancel_with_a_reason(client, requester, make_change):
    change = make_change()
    logged_in(client, requester)
    assert action(client, change, "cancel", comment="Not needed").status_code == 200
    change.refresh_from_db()
    assert change.status == ChangeStatus.CANCELLED
    assert entries_for(change).first().changes["reason"] == "Not needed"


def test_without_htmx_an_action_redirects(client, requester, make_change):
    change = make_change()
    logged_in(client, requester)
    url = reverse("changes:change-action", args=[change.pk, "cancel"])
    response = client.post(url)
    assert response.status_code == 302 and response.url == change.get_absolute_url()


def test_refresh_impact(client, requester, make_change):
    change = make_change()
    logged_in(client, requester)
    assert action(client, change, "refresh-impact").status_code == 200
    change.refresh_from_db()
    assert change.impact_computed_at is not None and change.impact.count() == 1


# --- schedule, implement, review, close -----------------------------------------------------


def window(start=DAY + H, end=DAY + 2 * H, **extra):
    return {"start": start.strftime(FMT), "end": end.strftime(FMT), **extra}


def test_schedule_inside_a_blackout_needs_a_reason(client, manager, approved):
    change = approved()
    services.blackout_create(
        context=ctx(manager), data={"name": "Year end", "start": DAY, "end": DAY + 4 * H}
    )
    logged_in(client, manager)
    preview = client.get(reverse("changes:schedule-preview", args=[change.pk]), window())
    assert "Year end" in preview.content.decode()
    refused = action(client, change, "schedule", **window())
    assert refused.status_code == 400 and "override reason" in refused.content.decode()
    change.refresh_from_db()
    assert change.status == ChangeStatus.APPROVED
    assert action(client, change, "schedule", **window(override_reason="Agreed")).status_code == 200
    change.refresh_from_db()
    assert change.status == ChangeStatus.SCHEDULED
    assert change.blackout_override_reason == "Agreed"


def test_a_bad_window_is_a_form_error(client, manager, approved):
    change = approved()
    logged_in(client, manager)
    response = action(client, change, "schedule", **window(end=DAY - H))
    assert (
        response.status_code == 400
        and "The end must be after the start." in response.content.decode()
    )
    change.refresh_from_db()
    assert change.status == ChangeStatus.APPROVED


def test_only_a_change_manager_schedules(client, requester, approved):
    change = approved()
    logged_in(client, requester)
    assert action(client, change, "schedule", **window()).status_code == 403
    change.refresh_from_db()
    assert change.status == ChangeStatus.APPROVED


def test_implement_review_with_suspected_incidents_and_close(client, manager, approved):
    change = approved()
    services.change_schedule(context=ctx(manager), change=change, start=NOW - 2 * H, end=NOW - H)
    ci = change.cis.get()
    incident = incident_open(context=ChangeContext(source="system"), title="Mail down", cis=[ci])
    logged_in(client, manager)
    assert action(client, change, "implement", comment="Done at 02:00").status_code == 200
    page = client.get(change.get_absolute_url()).content.decode()
    assert 'id="review-form"' in page and incident.number in page  # suspected, pre-listed
    refused = action(client, change, "review", notes="?")
    assert refused.status_code == 400
    change.refresh_from_db()
    assert change.status == ChangeStatus.IMPLEMENTED
    unknown = action(client, change, "review", outcome="failed", other_incidents="INC-999999")
    assert unknown.status_code == 400 and "Unknown incidents" in unknown.content.decode()
    done = action(client, change, "review", outcome="failed", notes="Rolled forward",
                  incidents=[incident.pk])  # fmt: skip
    assert done.status_code == 200
    change.refresh_from_db()
    assert change.status == ChangeStatus.REVIEWED and change.outcome == "failed"
    assert list(change.caused_incidents.all()) == [incident]
    assert action(client, change, "close").status_code == 200
    change.refresh_from_db()
    assert change.status == ChangeStatus.CLOSED
    page = client.get(change.get_absolute_url()).content.decode()
    for kind in ("Implemented", "Reviewed", "Closed", "Scheduled"):
        assert kind in page  # the change log


def test_a_cab_member_may_not_implement(client, cab, approved):
    change = approved()
    logged_in(client, cab[2])
    assert action(client, change, "implement").status_code == 403
    change.refresh_from_db()
    assert change.status == ChangeStatus.APPROVED


def test_the_page_shows_conflicts(client, manager, approved, make_ci):
    ci = make_ci("shared")
    first, second = approved(cis=[ci]), approved(cis=[ci])
    for change in (first, second):
        services.change_schedule(
            context=ctx(manager), change=change, start=DAY + H, end=DAY + 3 * H
        )
    logged_in(client, manager)
    page = client.get(first.get_absolute_url()).content.decode()
    assert "same CI" in page and second.number in page


def test_the_list_has_a_fixed_query_count(client, requester, make_change, make_ci):
    make_change(cis=[make_ci(), make_ci()])
    logged_in(client, requester)
    url = reverse("changes:change-list")
    few = measure(client, url)
    for _ in range(8):
        make_change(cis=[make_ci(), make_ci()])
    assert measure(client, url) == few
    assert_pinned("changes.change_list", few)


def test_the_rfc_page_has_a_fixed_query_count(client, manager, approved, make_ci):
    change = approved(cis=[make_ci()])
    other = approved(cis=[make_ci() for _ in range(5)])
    logged_in(client, manager)
    few = measure(client, change.get_absolute_url())
    assert measure(client, other.get_absolute_url()) == few
    assert_pinned("changes.change_detail", few)


# --- attachments --------------------------------------------------------------------------


def test_a_file_is_attached_and_downloaded(client, requester, make_change, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    change = make_change()
    logged_in(client, requester)
    upload = SimpleUploadedFile("plan.txt", b"step 1", content_type="text/plain")
    url = reverse("changes:attachment-add", args=[change.pk])
    response = client.post(url, {"file": upload, "name": "Runbook"}, **HX)
    assert response.status_code == 200 and "Runbook" in response.content.decode()
    attachment = change.attachments.get()
    download = client.get(reverse("changes:attachment-download", args=[change.pk, attachment.pk]))
    assert b"".join(download.streaming_content) == b"step 1"


def test_attaching_without_a_file_or_by_others_is_refused(
    client, requester, make_change, make_user, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    change = make_change()
    url = reverse("changes:attachment-add", args=[change.pk])
    logged_in(client, requester)
    assert client.post(url, {}, **HX).status_code == 400
    logged_in(client, make_user(roles.SERVICE_DESK))
    upload = SimpleUploadedFile("x.txt", b"x")
    assert client.post(url, {"file": upload}, **HX).status_code == 403
    logged_in(client, make_user(roles.CAB_MEMBER))
    assert client.post(url, {"file": SimpleUploadedFile("x.txt", b"x")}, **HX).status_code == 403
    assert not change.attachments.exists()
