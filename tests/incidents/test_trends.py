"""Trend analysis: the summary table's refresh (incremental, idempotent), the report (a planted
rising category flagged, a flat one not), its API, CSV and refusals."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.core.management import call_command
from django.utils import timezone

from incidents import trends
from incidents.models import Incident, IncidentDailyCount, QuickLogTemplate
from incidents.services import incident_quick_log
from itsm import roles
from tests.factories import CIFactory, CITypeFactory, DepartmentFactory

from .problem_factories import SYSTEM, make_incident

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 11, 30)  # a Monday


def _log(day: dt.date, n: int, **fields) -> None:
    """`n` incidents logged at noon of `day` (created is auto_now_add: set afterwards)."""
    at = dt.datetime.combine(day, dt.time(12), tzinfo=timezone.get_current_timezone())
    ids = [make_incident(**fields).pk for _ in range(n)]
    Incident.objects.filter(pk__in=ids).update(created=at)


def _weekly(category: str, counts: list[int]) -> None:
    """One count per week, the last one ending on TODAY's week."""
    first = TODAY - dt.timedelta(weeks=len(counts) - 1)
    for i, n in enumerate(counts):
        _log(first + dt.timedelta(weeks=i), n, category=category)


def test_a_planted_rising_category_is_detected_and_a_flat_one_is_not():
    rng = random.Random(3)
    rising = [2, 3, 3, 4, 5, 5, 6, 7, 8, 8, 10, 11]
    flat = [rng.choice([5, 6, 7]) for _ in range(12)]
    _weekly("Printing", rising)
    _weekly("E-mail", flat)
    _weekly("Rare", [0] * 10 + [1, 2])  # too little data to test
    trends.refresh()
    report = trends.trend_report(
        group_by="category",
        period="week",
        start=TODAY - dt.timedelta(weeks=11),
        end=TODAY + dt.timedelta(days=6),
    )
    by_value = {s["value"]: s for s in report["series"]}
    assert report["rising"] == ["Printing"]
    assert by_value["Printing"]["counts"] == rising
    assert by_value["Printing"]["trend"]["p_adjusted"] < 0.05
    assert by_value["Printing"]["trend"]["slope"] > 0
    assert by_value["E-mail"]["rising"] is False and by_value["E-mail"]["trend"]["tested"]
    assert by_value["Rare"]["trend"]["tested"] is False
    assert len(report["buckets"]) == 12


def test_the_running_period_is_shown_but_not_tested():
    _weekly("Printing", [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6])
    trends.refresh()
    report = trends.trend_report(
        group_by="category", period="week", start=TODAY - dt.timedelta(weeks=11), end=TODAY
    )
    assert report["complete_periods"] == 11  # the week of TODAY is still running
    assert report["series"][0]["counts"][-1] == 6


def test_refresh_is_incremental_and_idempotent():
    old_day, new_day = TODAY - dt.timedelta(days=40), TODAY - dt.timedelta(days=1)
    _log(old_day, 3, category="Printing")
    start = timezone.now() + dt.timedelta(hours=1)
    assert trends.refresh(now=start) == 1  # the first run: every day
    rows = list(IncidentDailyCount.objects.values_list("day", "dimension", "value", "count"))
    assert (old_day, "category", "Printing", 3) in rows
    assert trends.refresh(now=start + dt.timedelta(hours=1)) == 0  # nothing changed since
    assert (
        list(IncidentDailyCount.objects.values_list("day", "dimension", "value", "count")) == rows
    )
    _log(new_day, 2, category="E-mail")
    Incident.objects.filter(category="E-mail").update(
        updated=start + dt.timedelta(hours=1, minutes=30)
    )
    # only the touched day is recomputed
    assert trends.refresh(now=start + dt.timedelta(hours=2)) == 1
    assert IncidentDailyCount.objects.get(day=new_day, dimension="category").count == 2
    # a changed incident moves between groups on its day; a second run changes nothing
    Incident.objects.filter(category="E-mail").update(
        category="Network", updated=start + dt.timedelta(hours=2, minutes=30)
    )
    for hours in (3, 3):
        trends.refresh(now=start + dt.timedelta(hours=hours))
        assert IncidentDailyCount.objects.filter(day=new_day, dimension="category").get().value == (
            "Network"
        )
    assert IncidentDailyCount.objects.get(day=old_day, dimension="category").count == 3


def test_every_dimension_is_counted_and_a_quick_logged_incident_counts_too():
    laptop = CITypeFactory(name="Trend laptop", slug="trend-laptop")
    server = CITypeFactory(name="Trend server", slug="trend-server")
    a, b = CIFactory(ci_type=laptop), CIFactory(ci_type=server)
    department = DepartmentFactory(name="Finance")
    day = TODAY - dt.timedelta(days=2)
    _log(day, 1, category="Printing", cause="user_error", department=department, cis=[a, b])
    # a quick-logged incident: logged and resolved in one step, through its own service
    template = QuickLogTemplate.objects.filter(active=True).first()
    quick = incident_quick_log(context=SYSTEM, template=template, cis=[a])
    at = dt.datetime.combine(day, dt.time(13), tzinfo=timezone.get_current_timezone())
    Incident.objects.filter(pk=quick.pk).update(created=at)
    call_command("refresh_trends", since=str(day - dt.timedelta(days=1)))
    counts = {
        (d, v): n
        for d, v, n in IncidentDailyCount.objects.filter(day=day).values_list(
            "dimension", "value", "count"
        )
    }
    quick.refresh_from_db()
    assert counts[("category", "Printing")] == 1 + (quick.category == "Printing")
    assert counts[("category", quick.category)] >= 1
    assert counts[("cause", "user_error")] == 1 + (quick.cause == "user_error")
    assert counts[("ci_type", "Trend laptop")] == 2 and counts[("ci_type", "Trend server")] == 1
    assert counts[("department", "Finance")] == 1 + (quick.department_id == department.pk)
    assert counts[("resolution_method", quick.resolution_method)] == 1
    assert sum(n for (dim, _), n in counts.items() if dim == "category") == 2


def test_refresh_since_drops_days_left_without_incidents():
    day = TODAY - dt.timedelta(days=3)
    _log(day, 2, category="Printing")
    trends.refresh()
    Incident.objects.all().delete()
    trends.refresh(since=day)
    assert not IncidentDailyCount.objects.exists()


def test_the_beat_task_is_scheduled_and_runs():
    from incidents.trend_tasks import refresh_trends
    from itsm.celery import app

    assert any(e["task"] == "incidents.refresh_trends" for e in app.conf.beat_schedule.values())
    _log(TODAY, 1, category="Printing")
    assert refresh_trends.delay().get() == 1


@pytest.mark.parametrize(
    "query",
    [
        "group_by=colour&period=week",
        "group_by=category&period=fortnight",
        "period=week",
        "group_by=category&period=day&start=2020-01-01&end=2026-01-01",
        "group_by=category&start=2026-02-01&end=2026-01-01",
        "group_by=category&start=yesterday",
        "group_by=category&bogus=1",
    ],
)
def test_the_trend_api_refuses_bad_queries(query, make_user, api_client):
    api_client.force_authenticate(make_user(roles.READ_ONLY))
    response = api_client.get(f"/api/v1/reports/trends/?{query}")
    assert response.status_code == 400, response.content


def test_the_trend_api_and_its_csv(make_user, api_client):
    _weekly("Printing", [1, 2, 3])
    trends.refresh()
    api_client.force_authenticate(make_user(roles.SERVICE_DESK))
    url = f"/api/v1/reports/trends/?group_by=category&period=week&end={TODAY}"
    body = api_client.get(url).json()
    assert body["series"][0]["value"] == "Printing"
    assert body["series"][0]["counts"][-3:] == [1, 2, 3]
    assert "rising" in body
    response = api_client.get(url + "&format=csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().splitlines()
    assert lines[0] == "period_start,group,label,count,rising"
    assert lines[-1] == f"{TODAY.isoformat()},Printing,Printing,3,no"


def test_the_command_refuses_a_bad_date():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="not a date"):
        call_command("refresh_trends", since="last tuesday")
