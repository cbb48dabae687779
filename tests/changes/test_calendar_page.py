"""The calendar page (month and week, blackouts shaded, conflicts flagged, the feed link),
the metrics page and the home card."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from changes import services
from itsm import roles
from tests.changes.conftest import ctx
from tests.query_counts import assert_pinned, measure

pytestmark = pytest.mark.django_db

URL = reverse("changes:calendar")


def at(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=timezone.get_current_timezone())


@pytest.fixture
def day():
    """A Wednesday in the middle of a month a little ahead."""
    d = (timezone.localdate() + dt.timedelta(days=40)).replace(day=15)
    return d + dt.timedelta(days=(2 - d.weekday()) % 7)


def test_month_and_week_show_scheduled_changes_blackouts_and_conflicts(
    client, manager, approved, make_ci, day
):
    ci = make_ci("shared")
    first, second, alone = approved(cis=[ci]), approved(cis=[ci]), approved()
    for change in (first, second):
        services.change_schedule(
            context=ctx(manager), change=change, start=at(day, 9), end=at(day, 11)
        )
    services.change_schedule(
        context=ctx(manager), change=alone, start=at(day, 14) + dt.timedelta(days=1),
        end=at(day, 15) + dt.timedelta(days=1),
    )  # fmt: skip
    services.blackout_create(
        context=ctx(manager),
        data={"name": "Freeze", "start": at(day, 0) + dt.timedelta(days=3),
              "end": at(day, 0) + dt.timedelta(days=4)},
    )  # fmt: skip
    client.force_login(manager)
    month = client.get(URL, {"date": day.isoformat()}).content.decode()
    for change in (first, second, alone):
        assert change.number in month
    assert "cal-conflict" in month and "same ci with" in month
    blackout_day = (day + dt.timedelta(days=3)).isoformat()
    assert f'cal-day cal-blackout" data-date="{blackout_day}"' in month.replace(" cal-today", "")
    assert "Freeze" in month and "calendar.ics?token=" in month
    week = client.get(URL, {"view": "week", "date": day.isoformat()}).content.decode()
    assert first.number in week and "09:00" in week
    next_week = client.get(URL, {"view": "week", "date": (day + dt.timedelta(days=7)).isoformat()})
    assert first.number not in next_week.content.decode()


def test_prev_next_navigation_and_a_bad_date(client, requester):
    client.force_login(requester)
    page = client.get(URL, {"date": "2030-03-10"}).content.decode()
    assert "March 2030" in page and "date=2030-02-01" in page and "date=2030-04-01" in page
    assert client.get(URL, {"date": "not-a-date"}).status_code == 200


def test_the_calendar_has_a_fixed_query_count(client, manager, approved, day):
    client.force_login(manager)
    url = f"{URL}?date={day.isoformat()}"
    change = approved()
    services.change_schedule(context=ctx(manager), change=change, start=at(day, 9), end=at(day, 10))
    few = measure(client, url)
    for hour in range(10, 16):
        change = approved()
        services.change_schedule(
            context=ctx(manager), change=change, start=at(day, hour), end=at(day, hour + 1)
        )
    assert measure(client, url) == few
    assert_pinned("changes.calendar_month", few)


def test_pages_need_the_view_permission(client, make_user):
    client.force_login(make_user(None))
    for name in ("calendar", "metrics", "meeting-list"):
        assert client.get(reverse(f"changes:{name}")).status_code == 403


def test_the_metrics_page(client, manager, approved):
    change = approved()
    services.change_implement(context=ctx(manager), change=change)
    services.change_review(context=ctx(manager), change=change, outcome="successful")
    client.force_login(manager)
    page = client.get(reverse("changes:metrics")).content.decode()
    assert 'id="change-metrics-data"' in page and "chart.umd.min.js" in page
    assert "100.0 %" in page  # success rate
    assert "<script>" not in page  # CSP: no inline script


def test_the_home_card_and_the_menu(client, cab, submitted, make_user):
    submitted()
    client.force_login(cab[0])
    page = client.get(reverse("home")).content.decode()
    assert "1 RFC awaiting your vote" in page
    assert 'href="/changes/cab/"' in page and 'href="/changes/"' in page
    client.force_login(make_user(roles.CMDB_MANAGER))
    assert "awaiting your vote" not in client.get(reverse("home")).content.decode()


def test_the_conflicts_page(client, manager, approved, make_ci, day):
    ci = make_ci("shared")
    first, second = approved(cis=[ci]), approved(cis=[ci])
    for change in (first, second):
        services.change_schedule(
            context=ctx(manager), change=change, start=at(day, 9), end=at(day, 11)
        )
    client.force_login(manager)
    url = reverse("changes:conflicts")
    page = client.get(url, {"start": day.isoformat(), "days": "7"}).content.decode()
    assert "same CI" in page and first.number in page and second.number in page
    later = client.get(url, {"start": (day + dt.timedelta(days=1)).isoformat(), "days": "x"})
    assert later.status_code == 200 and first.number not in later.content.decode()
