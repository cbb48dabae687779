"""Business-time arithmetic (incidents/sla.py): pure, no database."""

from __future__ import annotations

import datetime as dt

import holidays
import pytest

from incidents import sla

UTC = dt.UTC
OFFICE = [(day, dt.time(8), dt.time(18)) for day in range(5)]  # Mon-Fri 08-18


def office(time_zone="UTC", **kwargs):
    return sla.Calendar.build(time_zone=time_zone, hours=OFFICE, **kwargs)


def at(*args, tz=UTC):
    return dt.datetime(*args, tzinfo=tz)


def test_within_the_day():
    # Wednesday 2026-12-02 09:00 + 2 h
    assert sla.add_business_minutes(at(2026, 12, 2, 9), 120, office()) == at(2026, 12, 2, 11)


def test_across_the_evening():
    # Wednesday 17:00 + 2 h = Thursday 09:00
    assert sla.add_business_minutes(at(2026, 12, 2, 17), 120, office()) == at(2026, 12, 3, 9)


def test_across_a_weekend():
    # Friday 2026-12-04 16:00 + 4 h = Monday 10:00
    assert sla.add_business_minutes(at(2026, 12, 4, 16), 240, office()) == at(2026, 12, 7, 10)


def test_logged_on_a_weekend_starts_monday_morning():
    assert sla.add_business_minutes(at(2026, 12, 5, 12), 30, office()) == at(2026, 12, 7, 8, 30)


def test_across_a_public_holiday_from_the_library():
    german = holidays.country_holidays("DE")
    cal = office(holidays=sla.HolidaySet((), german))
    # Wednesday 2026-12-23 17:00 + 3 h: 24 December is not a public holiday in Germany, so
    # 1 h on the 23rd and 2 h on Thursday the 24th → due 10:00.
    assert sla.add_business_minutes(at(2026, 12, 23, 17), 180, cal) == at(2026, 12, 24, 10)
    # Thursday 24th 17:00 + 2 h: Friday 25th (Christmas) and the weekend are off → Monday 28th.
    assert sla.add_business_minutes(at(2026, 12, 24, 17), 120, cal) == at(2026, 12, 28, 9)


def test_extra_holiday_dates():
    cal = office(holidays=sla.HolidaySet([dt.date(2026, 12, 3)]))
    # Wednesday 17:00 + 2 h, Thursday off → Friday 09:00
    assert sla.add_business_minutes(at(2026, 12, 2, 17), 120, cal) == at(2026, 12, 4, 9)


def test_time_zone_of_the_calendar():
    berlin = office("Europe/Berlin")
    # 07:30 UTC on a winter Wednesday is 08:30 in Berlin: 1 h later is 09:30 local = 08:30 UTC
    assert sla.add_business_minutes(at(2026, 12, 2, 7, 30), 60, berlin) == at(2026, 12, 2, 8, 30)


def test_daylight_saving_day_has_its_real_length():
    always = sla.Calendar.build(
        time_zone="Europe/Berlin", hours=[(d, dt.time(0), dt.time(0)) for d in range(7)]
    )
    start = at(2026, 3, 28, 23, tz=UTC)  # Sunday 29 March 00:00 Berlin; the day has 23 h
    assert sla.add_business_minutes(start, 24 * 60, always) == start + dt.timedelta(hours=24)
    end_of_sunday = dt.datetime(2026, 3, 30, tzinfo=dt.UTC) - dt.timedelta(hours=2)
    assert sla.business_minutes_between(start, end_of_sunday, always) == 23 * 60


def test_zero_minutes_is_the_start_itself():
    moment = at(2026, 12, 5, 3)
    assert sla.add_business_minutes(moment, 0, office()) == moment


def test_between_counts_only_working_time():
    cal = office()
    # Friday 16:00 → Monday 10:00 = 2 h + 2 h
    assert sla.business_minutes_between(at(2026, 12, 4, 16), at(2026, 12, 7, 10), cal) == 240
    assert sla.business_minutes_between(at(2026, 12, 7, 10), at(2026, 12, 4, 16), cal) == -240
    assert sla.business_minutes_between(at(2026, 12, 5, 1), at(2026, 12, 6, 23), cal) == 0


@pytest.mark.parametrize("minutes", [1, 59, 600, 601, 3000, 12345])
def test_add_and_between_agree(minutes):
    cal = office(holidays=sla.HolidaySet([dt.date(2026, 12, 8)]))
    start = at(2026, 12, 4, 13, 17)
    due = sla.add_business_minutes(start, minutes, cal)
    assert sla.business_minutes_between(start, due, cal) == pytest.approx(minutes)


def test_naive_datetimes_and_empty_calendars_are_refused():
    with pytest.raises(ValueError):
        sla.add_business_minutes(dt.datetime(2026, 12, 2, 9), 10, office())
    with pytest.raises(ValueError):
        sla.add_business_minutes(at(2026, 12, 2, 9), 10, sla.Calendar.build(hours=[]))
