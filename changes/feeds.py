"""The change calendar as an iCalendar feed that mail clients subscribe to.

A client cannot log in, so the feed URL carries a per-user token: the user's id and a digest of
their password hash, signed with the project's SECRET_KEY (`django.core.signing`, salt
`changes.calendar-feed`). Anyone with the URL reads that user's calendar, as with any
subscription link; changing the password (or the SECRET_KEY) revokes every link of the user.
The user must still be active and hold `changes.view_change`.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from django.contrib.auth import get_user_model
from django.core import signing
from django.urls import reverse
from icalendar import Calendar, Event

from .selectors import blackouts_overlapping, calendar_changes

SALT = "changes.calendar-feed"
#: The feed covers this much past and future.
PAST = dt.timedelta(days=31)
FUTURE = dt.timedelta(days=366)


def _digest(user) -> str:
    return hashlib.sha256(f"{user.pk}:{user.password}".encode()).hexdigest()[:16]


def calendar_feed_token(user) -> str:
    """The signed token of `user`'s calendar feed."""
    return signing.dumps({"u": user.pk, "h": _digest(user)}, salt=SALT, compress=True)


def calendar_feed_url(user) -> str:
    """The path of `user`'s feed (`/changes/calendar.ics?token=…`)."""
    return f"{reverse('changes:calendar-ics')}?token={calendar_feed_token(user)}"


def user_for_token(token: str):
    """The active user a feed token belongs to, or None (bad signature, stale password,
    inactive user, no permission)."""
    try:
        data = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    user = get_user_model().objects.filter(pk=data.get("u"), is_active=True).first()
    if user is None or data.get("h") != _digest(user):
        return None
    if not user.has_perm("changes.view_change"):
        return None
    return user


def calendar_ics(*, now: dt.datetime, host: str) -> bytes:
    """The scheduled changes and blackouts from a month ago to a year ahead, as iCalendar."""
    cal = Calendar()
    cal.add("prodid", "-//ITSM//Change calendar//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", "Change calendar")
    start, end = now - PAST, now + FUTURE
    for change in calendar_changes(start, end):
        event = Event()
        event.add("uid", f"{change.number}@{host}")
        event.add("summary", f"{change.number} {change.title}")
        event.add("dtstart", change.planned_start)
        event.add("dtend", change.planned_end)
        event.add("dtstamp", change.updated)
        event.add("status", "CONFIRMED" if change.status == "scheduled" else "TENTATIVE")
        event.add("categories", [change.get_change_type_display()])
        event.add(
            "description",
            f"{change.get_status_display()} · risk {change.get_risk_display()} · "
            f"{change.get_priority_display()}\n\n{change.description}",
        )
        cal.add_component(event)
    for blackout in blackouts_overlapping(start, end):
        event = Event()
        event.add("uid", f"blackout-{blackout.pk}@{host}")
        event.add("summary", f"Blackout: {blackout.name}")
        event.add("dtstart", blackout.start)
        event.add("dtend", blackout.end)
        event.add("dtstamp", now)
        event.add("description", blackout.reason)
        event.add("transp", "OPAQUE")
        cal.add_component(event)
    return cal.to_ical()
