"""The RFC e-mails give times as people read them: in the site's time zone, not UTC."""

from __future__ import annotations

import datetime as dt

import pytest

from changes.notifications import message

pytestmark = pytest.mark.django_db


def test_the_scheduled_subject_gives_the_planned_start_in_local_time(make_change, settings):
    settings.TIME_ZONE = "Europe/Paris"
    start = dt.datetime(2031, 7, 1, 20, 30, tzinfo=dt.UTC)  # 22:30 in Paris (summer time)
    change = make_change(planned_start=start, planned_end=start + dt.timedelta(hours=2))
    subject, _ = message(change, "scheduled")
    assert f"[{change.number}] scheduled 2031-07-01 22:30: Patch" == subject
