"""Scheduling, blackouts (with override), conflicts, and the iCalendar feed (issue 9 item 5)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from icalendar import Calendar
from rest_framework.test import APIClient

from changes import selectors, services
from changes.choices import ChangeStatus
from changes.feeds import calendar_feed_token, calendar_feed_url
from changes.models import Blackout, Change
from itsm import roles
from itsm.exceptions import ApplicationError, PermissionDeniedError
from tests.changes.conftest import NOW, ctx
from tests.factories import link

pytestmark = pytest.mark.django_db

DAY = NOW + dt.timedelta(days=10)
H = dt.timedelta(hours=1)


def blackout(manager, start=DAY, end=DAY + 4 * H, **scope):
    return services.blackout_create(
        context=ctx(manager), data={"name": "Year end", "start": start, "end": end}, **scope
    )


def schedule(manager, change, start=DAY + H, end=DAY + 2 * H, **kw):
    return services.change_schedule(context=ctx(manager), change=change, start=start, end=end, **kw)


def test_scheduling_sets_the_window(approved, manager):
    change = schedule(manager, approved())
    assert (change.status, change.planned_start, change.planned_end) == (
        ChangeStatus.SCHEDULED, DAY + H, DAY + 2 * H,
    )  # fmt: skip


def test_a_window_ending_before_it_starts_is_refused(approved, manager):
    change = approved()
    with pytest.raises(ApplicationError):
        schedule(manager, change, start=DAY, end=DAY - H)
    change.refresh_from_db()
    assert change.status == ChangeStatus.APPROVED


def test_inside_a_blackout_needs_an_override_reason(approved, manager):
    change = approved()
    blackout(manager)
    with pytest.raises(ApplicationError) as refused:
        schedule(manager, change)
    assert refused.value.extra["blackouts"][0]["name"] == "Year end"
    change.refresh_from_db()
    assert change.status == ChangeStatus.APPROVED
    change = schedule(manager, change, override_reason="Security fix, agreed with finance")
    assert change.status == ChangeStatus.SCHEDULED
    assert change.blackout_override_reason.startswith("Security fix")


def test_the_override_needs_its_permission(approved, manager, make_user):
    change = approved()
    blackout(manager)
    scheduler = make_user(None)
    scheduler.user_permissions.add(
        Permission.objects.get(codename="manage_change", content_type__app_label="changes")
    )
    with pytest.raises(PermissionDeniedError):
        schedule(scheduler, change, override_reason="Please")
    change.refresh_from_db()
    assert change.status == ChangeStatus.APPROVED


def test_a_blackout_scoped_to_other_cis_does_not_apply(approved, manager, make_ci, ci_type):
    from tests.factories import CITypeFactory

    change = approved()
    blackout(manager, cis=[make_ci()])
    blackout(manager, ci_types=[CITypeFactory(slug="other", name="Other")])
    assert schedule(manager, change).status == ChangeStatus.SCHEDULED


def test_a_blackout_scoped_to_the_ci_type_applies(approved, manager, ci_type):
    change = approved()
    blackout(manager, ci_types=[ci_type])
    with pytest.raises(ApplicationError):
        schedule(manager, change)


def test_a_blackout_outside_the_window_does_not_apply(approved, manager):
    blackout(manager, start=DAY + 3 * H, end=DAY + 5 * H)
    assert schedule(manager, approved()).status == ChangeStatus.SCHEDULED


def test_conflicts_on_the_same_ci_and_on_overlapping_impact(approved, manager, make_ci):
    shared, upstream, downstream, apart = (
        make_ci("shared"),
        make_ci("up"),
        make_ci("down"),
        make_ci(),
    )
    link(upstream, downstream, "feeds")
    a = schedule(manager, approved(cis=[shared]))
    b = schedule(manager, approved(cis=[shared]), start=DAY + 90 * dt.timedelta(minutes=1))
    c = schedule(manager, approved(cis=[upstream]))
    d = schedule(manager, approved(cis=[downstream]))
    schedule(manager, approved(cis=[shared]), start=DAY + 5 * H, end=DAY + 6 * H)  # later
    schedule(manager, approved(cis=[apart]))
    found = selectors.conflicts(DAY, DAY + 12 * H)
    pairs = {(x["kind"], tuple(ch["id"] for ch in x["changes"])) for x in found["conflicts"]}
    assert pairs == {("same_ci", (a.pk, b.pk)), ("impact_overlap", (c.pk, d.pk))}
    same = next(x for x in found["conflicts"] if x["kind"] == "same_ci")
    assert same["cis"][0]["name"] == "shared"
    assert same["overlap"] == {"start": b.planned_start, "end": a.planned_end}
    assert found["blackouts"] == []


def test_conflicts_list_blackout_clashes(approved, manager):
    change = schedule(manager, approved())
    blackout(manager)
    found = selectors.conflicts(DAY, DAY + 12 * H)
    assert [hit["change"]["id"] for hit in found["blackouts"]] == [change.pk]
    assert selectors.changes_in_blackout(DAY, DAY + 12 * H)[0]["change"] == change


def test_the_schedule_answer_lists_conflicts(approved, manager, make_ci):
    shared = make_ci("shared")
    first = schedule(manager, approved(cis=[shared]))
    second = approved(cis=[shared])
    client = APIClient()
    client.force_authenticate(manager)
    response = client.post(
        f"/api/v1/changes/{second.pk}/schedule/",
        {"start": (DAY + H).isoformat(), "end": (DAY + 3 * H).isoformat()},
        format="json",
    )
    assert response.status_code == 200, response.content
    conflicts = response.json()["conflicts"]["conflicts"]
    assert [c["changes"][1]["id"] for c in conflicts] == [first.pk]
    assert conflicts[0]["kind"] == "same_ci"


def test_schedule_api_refusals(approved, manager):
    change = approved()
    blackout(manager)
    client = APIClient()
    client.force_authenticate(manager)
    url = f"/api/v1/changes/{change.pk}/schedule/"
    window = {"start": (DAY + H).isoformat(), "end": (DAY + 2 * H).isoformat()}
    backwards = {"start": window["end"], "end": window["start"]}
    assert client.post(url, backwards, format="json").status_code == 400
    response = client.post(url, window, format="json")
    assert response.status_code == 400
    assert response.json()["blackouts"][0]["name"] == "Year end"
    change.refresh_from_db()
    assert change.status == ChangeStatus.APPROVED
    response = client.post(url, {**window, "override_reason": "Agreed"}, format="json")
    assert response.status_code == 200


@pytest.mark.parametrize(
    "query",
    ["", "start=2026-01-01T00:00:00Z", "start=nonsense&end=2026-01-01T00:00:00Z",
     "start=2026-02-01T00:00:00Z&end=2026-01-01T00:00:00Z", "start=2026-01-01&end=x&bogus=1"],
)  # fmt: skip
def test_conflicts_api_refuses_bad_dates(query, requester):
    client = APIClient()
    client.force_authenticate(requester)
    assert client.get(f"/api/v1/changes/conflicts/?{query}").status_code == 400


def test_conflicts_api(approved, manager, requester, make_ci):
    shared = make_ci("shared")
    schedule(manager, approved(cis=[shared]))
    schedule(manager, approved(cis=[shared]))
    client = APIClient()
    client.force_authenticate(requester)
    response = client.get(
        "/api/v1/changes/conflicts/",
        {"start": DAY.isoformat(), "end": (DAY + 12 * H).isoformat()},
    )
    assert response.status_code == 200
    assert len(response.json()["conflicts"]) == 1


# --- the iCalendar feed -----------------------------------------------------------------------


def test_the_feed_lists_scheduled_changes_and_blackouts(approved, manager, client, make_user):
    change = schedule(manager, approved())
    blackout(manager, start=DAY + 5 * H, end=DAY + 6 * H)
    reader = make_user(roles.READ_ONLY)
    client.logout()
    response = client.get(calendar_feed_url(reader))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    events = Calendar.from_ical(response.content).walk("VEVENT")
    summaries = sorted(str(e["summary"]) for e in events)
    assert summaries == ["Blackout: Year end", f"{change.number} {change.title}"]
    event = next(e for e in events if str(e["summary"]).startswith("RFC"))
    assert event.decoded("dtstart") == change.planned_start


def test_the_feed_needs_a_valid_token(client, make_user):
    reader = make_user(roles.READ_ONLY)
    token = calendar_feed_token(reader)
    assert client.get("/changes/calendar.ics").status_code == 403
    assert client.get("/changes/calendar.ics?token=" + token[:-2] + "xx").status_code == 403
    nobody = make_user(None)
    assert client.get(calendar_feed_url(nobody)).status_code == 403  # no view permission
    reader.set_password("another-Secret-1")
    reader.save()
    assert client.get("/changes/calendar.ics?token=" + token).status_code == 403  # revoked


def test_unscheduled_changes_stay_off_the_calendar(submitted):
    submitted()
    assert not selectors.calendar_changes(NOW, NOW + dt.timedelta(days=30)).exists()
    assert Change.objects.count() == 1
    assert Blackout.objects.count() == 0
