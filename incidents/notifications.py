"""E-mail about incidents: assignment, escalation, resolution, reopening.

Services call `notify(kind, incident_id, ...)`, which queues the task `incidents.send_mail`
once the transaction commits (a rolled-back change sends nothing). The task works out the
recipients and sends through Django's mail API (console backend by default, SMTP when
`EMAIL_HOST` is set).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction

KINDS = ("assigned", "escalated", "resolved", "reopened")

SUBJECTS = {
    "assigned": "{number} assigned to you: {title}",
    "escalated": "{number} escalated: {title}",
    "resolved": "{number} resolved: {title}",
    "reopened": "{number} reopened: {title}",
}


def notify(kind: str, incident_id: int, **extra) -> None:
    """Send the `kind` e-mail about an incident after the current transaction commits."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification {kind!r}")
    from .tasks import send_incident_mail

    transaction.on_commit(lambda: send_incident_mail.delay(kind, incident_id, extra))


def _team(incident) -> list:
    if incident.assignee_id is not None:
        return [incident.assignee]
    if incident.assignment_group_id is not None:
        return list(incident.assignment_group.user_set.filter(is_active=True))
    return []


def recipients(
    kind: str, incident, user_ids: Iterable[int] = (), *, team: bool = True
) -> list[str]:
    """The e-mail addresses to tell about `kind` (without blanks or repeats)."""
    if kind == "resolved":
        people = [incident.caller] if incident.caller_id else []
    else:
        people = _team(incident) if team else []
    if kind == "escalated" and user_ids:
        people += list(get_user_model().objects.filter(pk__in=list(user_ids), is_active=True))
    seen: dict[str, None] = {}
    for person in people:
        if person is not None and person.email:
            seen.setdefault(person.email, None)
    return list(seen)


def send(kind: str, incident_id: int, extra: dict | None = None) -> int:
    """Build and send the e-mail; returns the number of messages sent (0: nobody to tell)."""
    from .models import Incident

    extra = extra or {}
    incident = (
        Incident.objects.select_related("assignee", "assignment_group", "caller")
        .filter(pk=incident_id)
        .first()
    )
    if incident is None:
        return 0
    to = recipients(kind, incident, extra.get("user_ids") or (), team=extra.get("team", True))
    if not to:
        return 0
    subject = SUBJECTS[kind].format(number=incident.number, title=incident.title)[:200]
    lines = [
        f"{incident.number}: {incident.title}",
        f"Status: {incident.get_status_display()}, priority {incident.priority}",
    ]
    if incident.resolve_due:
        lines.append(f"Resolve by: {incident.resolve_due:%Y-%m-%d %H:%M %Z}")
    if kind == "resolved" and incident.resolution:
        lines += ["", "Resolution:", incident.resolution]
        lines += ["", "If this did not solve your problem, reopen the incident."]
    if extra.get("reason"):
        lines += ["", f"Reason: {extra['reason']}"]
    base = getattr(settings, "SITE_URL", "").rstrip("/")
    if base:
        lines += ["", f"{base}/incidents/{incident.pk}/"]
    return send_mail(
        subject,
        "\n".join(lines),
        settings.DEFAULT_FROM_EMAIL,
        to,
        fail_silently=False,
    )
