"""Business-time arithmetic, pure (no database): add business minutes to a moment, count the
business time between two moments, under a `Calendar` of weekly working hours and holidays.

Moments are aware datetimes; arithmetic is done in UTC and working hours are read in the
calendar's time zone, so daylight-saving changes are handled (a working day that loses an hour
in spring has one hour less).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

#: A calendar without a working minute in this many days is refused (it would never end).
MAX_DAYS = 3700

Interval = tuple[dt.time, dt.time]


@dataclass(frozen=True)
class Calendar:
    """Working hours per weekday (0 = Monday) as (start, end) local times — an end of 00:00
    means midnight — and the dates off (anything supporting `date in holidays`)."""

    tz: ZoneInfo
    hours: Mapping[int, tuple[Interval, ...]]
    holidays: Container[dt.date] = field(default_factory=frozenset)

    @classmethod
    def build(
        cls,
        *,
        time_zone: str = "UTC",
        hours: Iterable[tuple[int, dt.time, dt.time]],
        holidays: Container[dt.date] = frozenset(),
    ) -> Calendar:
        """A calendar from (weekday, start, end) rows."""
        by_day: dict[int, list[Interval]] = {}
        for weekday, start, end in hours:
            by_day.setdefault(int(weekday), []).append((start, end))
        return cls(
            tz=ZoneInfo(time_zone),
            hours={day: tuple(sorted(spans)) for day, spans in by_day.items()},
            holidays=holidays,
        )

    def working_spans(self, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        """The working intervals of a local date as aware UTC datetimes (none on a holiday)."""
        if day in self.holidays:
            return []
        spans = []
        for start, end in self.hours.get(day.weekday(), ()):
            begin = dt.datetime.combine(day, start, tzinfo=self.tz)
            if end == dt.time(0, 0):
                finish = dt.datetime.combine(day + dt.timedelta(days=1), end, tzinfo=self.tz)
            else:
                finish = dt.datetime.combine(day, end, tzinfo=self.tz)
            begin, finish = begin.astimezone(dt.UTC), finish.astimezone(dt.UTC)
            if finish > begin:
                spans.append((begin, finish))
        return spans

    @property
    def has_hours(self) -> bool:
        return any(self.hours.values())


def _check(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        raise ValueError("business-time arithmetic needs aware datetimes")
    return moment.astimezone(dt.UTC)


def add_business_seconds(start: dt.datetime, seconds: float, calendar: Calendar) -> dt.datetime:
    """The moment `seconds` of business time after `start` (in UTC). Zero seconds answer
    `start` itself, even outside working hours."""
    moment = _check(start)
    if seconds <= 0:
        return moment
    if not calendar.has_hours:
        raise ValueError("the calendar has no working hours")
    remaining = dt.timedelta(seconds=seconds)
    day = moment.astimezone(calendar.tz).date() - dt.timedelta(days=1)
    for _ in range(MAX_DAYS):
        for begin, finish in calendar.working_spans(day):
            if finish <= moment:
                continue
            begin = max(begin, moment)
            available = finish - begin
            if remaining <= available:
                return begin + remaining
            remaining -= available
        day += dt.timedelta(days=1)
    raise ValueError(f"no working time within {MAX_DAYS} days")


def add_business_minutes(start: dt.datetime, minutes: float, calendar: Calendar) -> dt.datetime:
    """The moment `minutes` of business time after `start` (in UTC)."""
    return add_business_seconds(start, minutes * 60, calendar)


def business_seconds_between(start: dt.datetime, end: dt.datetime, calendar: Calendar) -> float:
    """Business seconds from `start` to `end` (negative when `end` is before `start`)."""
    a, b = _check(start), _check(end)
    if b < a:
        return -business_seconds_between(b, a, calendar)
    total = 0.0
    day = a.astimezone(calendar.tz).date() - dt.timedelta(days=1)
    last = b.astimezone(calendar.tz).date()
    while day <= last:
        for begin, finish in calendar.working_spans(day):
            overlap = (min(finish, b) - max(begin, a)).total_seconds()
            if overlap > 0:
                total += overlap
        day += dt.timedelta(days=1)
    return total


def business_minutes_between(start: dt.datetime, end: dt.datetime, calendar: Calendar) -> float:
    """Business minutes from `start` to `end`."""
    return business_seconds_between(start, end, calendar) / 60


class HolidaySet:
    """Dates off: explicit ones plus a test (e.g. a `holidays` library calendar)."""

    def __init__(
        self,
        dates: Iterable[dt.date] = (),
        generated: Callable[[dt.date], bool] | Container[dt.date] | None = None,
    ) -> None:
        self.dates = frozenset(dates)
        self.generated = generated

    def __contains__(self, day: object) -> bool:
        if day in self.dates:
            return True
        if self.generated is None:
            return False
        if callable(self.generated) and not isinstance(self.generated, Container):
            return bool(self.generated(day))  # type: ignore[arg-type]
        return day in self.generated  # type: ignore[operator]
