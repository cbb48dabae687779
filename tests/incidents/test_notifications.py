"""E-mail after commit: assignment, escalation, resolution, reopening; nothing when the
transaction rolls back."""

from __future__ import annotations

import pytest
from django.core import mail
from django.db import transaction

from incidents import services

from .conftest import ctx

pytestmark = pytest.mark.django_db


def test_assignment_mail_is_sent_after_commit(
    make_incident, agent, agent2, django_capture_on_commit_callbacks
):
    incident = make_incident(user=agent)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.incident_assign(context=ctx(agent), incident=incident, assignee=agent2)
        assert mail.outbox == []  # not before the commit
    assert len(callbacks) == 1
    callbacks[0]()
    assert [m.to for m in mail.outbox] == [["agent2@example.org"]]
    assert incident.number in mail.outbox[0].subject


def test_a_rolled_back_change_sends_nothing(
    make_incident, agent, agent2, django_capture_on_commit_callbacks
):
    incident = make_incident(user=agent)
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.incident_assign(context=ctx(agent), incident=incident, assignee=agent2)
        raise RuntimeError("something failed after the assignment")
    assert callbacks == []
    assert mail.outbox == []


def test_resolution_and_reopening_mails(
    make_incident, agent, end_user, django_capture_on_commit_callbacks
):
    incident = make_incident(user=end_user)
    with django_capture_on_commit_callbacks(execute=True):
        services.incident_assign(context=ctx(agent), incident=incident, assignee=agent)
        services.incident_resolve(
            context=ctx(agent), incident=incident, resolution_method="fix", resolution="Rebooted."
        )
        services.incident_reopen(context=ctx(end_user), incident=incident, reason="Still broken")
        services.incident_escalate(context=ctx(agent), incident=incident, reason="VIP")
    sent = [(m.subject.split(":")[0], m.to) for m in mail.outbox]
    number = incident.number
    assert sent == [
        (f"{number} assigned to you", ["agent@example.org"]),
        (f"{number} resolved", ["enduser@example.org"]),
        (f"{number} reopened", ["agent@example.org"]),
        (f"{number} escalated", ["agent@example.org"]),
    ]
    assert "Rebooted." in mail.outbox[1].body
