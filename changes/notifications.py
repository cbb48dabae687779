"""E-mail to whoever must act next on an RFC, sent by a Celery task after the transaction
commits: the approvers when it is submitted, the requester when it is decided or information is
asked for, the implementer (else the requester) when it is scheduled."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mass_mail
from django.db import transaction
from django.utils import timezone

EVENTS = ("submitted", "decided", "info_requested", "scheduled")


def notify_after_commit(change_id: int, event: str) -> None:
    """Queue the e-mail of `event` once the current transaction commits."""
    from .tasks import change_notify

    transaction.on_commit(lambda: change_notify.delay(change_id, event))


def recipients(change, event: str) -> list[str]:
    """The addresses of who must act next after `event`."""
    from .selectors import eligible_voter_ids

    users = get_user_model().objects.filter(is_active=True).exclude(email="")
    if event == "submitted":
        ids = eligible_voter_ids(change)
    elif event == "scheduled":
        ids = {change.implementer_id or change.originator_id}
    else:
        ids = {change.originator_id}
    return sorted(users.filter(pk__in=ids).values_list("email", flat=True))


def message(change, event: str) -> tuple[str, str]:
    """Subject and body of the e-mail of `event`."""
    base = getattr(settings, "SITE_URL", "").rstrip("/")
    link = f"{base}{change.get_absolute_url()}" if base else change.get_absolute_url()
    # A window is only sure to be set for "scheduled"; the other subjects must not depend on it.
    # People read local time (the site's time zone), not the UTC the column holds.
    when = (
        f"{timezone.localtime(change.planned_start):%Y-%m-%d %H:%M}"
        if change.planned_start
        else "(no window)"
    )
    subjects = {
        "submitted": f"[{change.number}] awaits your vote: {change.title}",
        "decided": f"[{change.number}] {change.get_status_display()}: {change.title}",
        "info_requested": f"[{change.number}] information requested: {change.title}",
        "scheduled": f"[{change.number}] scheduled {when}: {change.title}",
    }
    body = (
        f"{change.number} {change.title}\n"
        f"Status: {change.get_status_display()}\n"
        f"Type: {change.get_change_type_display()}, priority {change.get_priority_display()}, "
        f"risk {change.get_risk_display()} ({change.risk_score})\n\n{link}\n"
    )
    return subjects[event], body


def send(change_id: int, event: str) -> int:
    """Send the e-mail of `event` about the RFC; answers how many were sent."""
    from .models import Change

    change = Change.objects.filter(pk=change_id).first()
    if change is None or event not in EVENTS:
        return 0
    to = recipients(change, event)
    if not to:
        return 0
    subject, body = message(change, event)
    sender = settings.DEFAULT_FROM_EMAIL
    return send_mass_mail([(subject, body, sender, [address]) for address in to])
