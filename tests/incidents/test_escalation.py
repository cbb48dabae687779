"""Escalation rules: at X % of a target or on breach, once per incident and SLA cycle, however
often (or concurrently) the beat task runs; each escalation in the timeline."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.db import connection

from incidents import escalation_services, selectors, services
from incidents.models import BusinessCalendar, EscalationFired, EscalationRule, SlaPolicy
from incidents.tasks import run_escalations
from itsm import roles
from itsm.models import AuditEntry

from .conftest import SYSTEM, ctx, frozen

UTC = dt.UTC


def at(*args):
    return dt.datetime(*args, tzinfo=UTC)


@pytest.fixture
def always(db):
    """P3 on a 24x7 calendar: resolve in 100 minutes."""
    calendar = BusinessCalendar.objects.get(name="24x7")
    SlaPolicy.objects.filter(priority=3, ci_type=None, department=None).update(
        calendar=calendar, response_minutes=1000, resolution_minutes=100
    )
    return calendar


@pytest.fixture
def rule(always, agent2):
    team = Group.objects.create(name="Escalation managers")
    boss = agent2.__class__.objects.create_user("boss", email="boss@example.org")
    boss.groups.add(team)
    made = EscalationRule.objects.create(
        name="Three quarters",
        target="resolution",
        threshold_percent=75,
        reassign_to=agent2,
        raise_priority=True,
        notify_group=team,
    )
    return made


def _log(agent, when):
    with frozen(when):
        return services.incident_open(context=ctx(agent), title="Mail down", assignee=agent)


@pytest.mark.django_db
def test_fires_once_at_the_threshold(rule, agent, agent2, django_capture_on_commit_callbacks):
    incident = _log(agent, at(2026, 12, 1, 9))
    with frozen(at(2026, 12, 1, 10, 14)):  # 74 % of 100 min
        assert run_escalations.apply().get()["escalations"] == 0
    mail.outbox.clear()
    with frozen(at(2026, 12, 1, 10, 16)), django_capture_on_commit_callbacks(execute=True):
        assert run_escalations.apply().get()["escalations"] == 1
        assert run_escalations.apply().get()["escalations"] == 0  # not twice
    incident.refresh_from_db()
    assert (incident.assignee, incident.priority) == (agent2, 2)
    assert EscalationFired.objects.filter(incident=incident).count() == 1
    entry = AuditEntry.objects.get(object_id=incident.pk, kind="escalated")
    assert entry.source_ref == f"escalation-rule:{rule.pk}"
    assert "Three quarters" in entry.reason
    assert "escalated" in [item.kind for item in selectors.incident_timeline(incident)]
    recipients = {address for message in mail.outbox for address in message.to}
    assert {"boss@example.org", "agent2@example.org"} <= recipients


@pytest.mark.django_db
def test_on_hold_waits_and_a_new_cycle_fires_again(rule, agent):
    EscalationRule.objects.update(raise_priority=False)  # keep the P3 policy
    incident = _log(agent, at(2026, 12, 1, 9))
    with frozen(at(2026, 12, 1, 9, 30)):
        services.incident_hold(context=ctx(agent), incident=incident, reason="supplier")
    with frozen(at(2026, 12, 1, 12)):
        assert escalation_services.escalations_run(context=SYSTEM) == 0
    with frozen(at(2026, 12, 1, 12, 1)):
        services.incident_resume(context=ctx(agent), incident=incident)
    with frozen(at(2026, 12, 1, 12, 50)):  # 30 + 49 minutes of clock: 79 %
        assert escalation_services.escalations_run(context=SYSTEM) == 1
    with frozen(at(2026, 12, 1, 13)):
        services.incident_resolve(
            context=ctx(agent), incident=incident, resolution_method="fix", resolution="ok"
        )
        services.incident_reopen(context=ctx(agent), incident=incident, reason="back")
    with frozen(at(2026, 12, 1, 14, 20)):
        assert escalation_services.escalations_run(context=SYSTEM) == 1
    assert list(
        EscalationFired.objects.filter(incident=incident)
        .order_by("cycle")
        .values_list("cycle", flat=True)
    ) == [1, 2]


@pytest.mark.django_db
def test_rules_filter_by_priority_and_inactive_rules_do_nothing(rule, agent):
    rule.priority = 1
    rule.save()
    _log(agent, at(2026, 12, 1, 9))
    with frozen(at(2026, 12, 2, 9)):
        assert escalation_services.escalations_run(context=SYSTEM) == 0
    EscalationRule.objects.update(priority=None, active=False)
    with frozen(at(2026, 12, 2, 9)):
        assert escalation_services.escalations_run(context=SYSTEM) == 0


@pytest.mark.django_db
def test_a_manual_escalation_needs_the_permission(make_incident, agent, make_user):
    incident = make_incident(user=agent)
    reader = make_user(roles.READ_ONLY)
    from itsm.exceptions import PermissionDeniedError

    with pytest.raises(PermissionDeniedError):
        services.incident_escalate(context=ctx(reader), incident=incident, reason="x")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_fire_once(rule, agent):
    incident = _log(agent, at(2026, 12, 1, 9))
    barrier = threading.Barrier(2)
    results: list[int] = []
    errors: list[BaseException] = []

    def run():
        from django.db import connection as thread_connection

        try:
            with frozen(at(2026, 12, 1, 10, 30)):
                due = escalation_services.escalations_due()
                barrier.wait(timeout=10)
                results.append(
                    sum(
                        escalation_services.escalation_fire(context=SYSTEM, incident=i, rule=r)
                        for i, r in due
                    )
                )
        except BaseException as exc:
            errors.append(exc)
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    assert sorted(results) == [0, 1]
    assert EscalationFired.objects.filter(incident=incident).count() == 1
    assert AuditEntry.objects.filter(object_id=incident.pk, kind="escalated").count() == 1


@pytest.mark.django_db
def test_response_breach_rule_stops_once_responded(always, agent):
    SlaPolicy.objects.filter(priority=3, ci_type=None, department=None).update(response_minutes=10)
    EscalationRule.objects.create(name="No response", target="response", threshold_percent=100)
    answered = _log(agent, at(2026, 12, 1, 9))
    waiting = _log(agent, at(2026, 12, 1, 9))
    with frozen(at(2026, 12, 1, 9, 5)):
        services.incident_start(context=ctx(agent), incident=answered)
    with frozen(at(2026, 12, 1, 9, 11)):
        assert escalation_services.escalations_run(context=SYSTEM) == 1
        assert escalation_services.escalations_run(context=SYSTEM) == 0
    assert EscalationFired.objects.get().incident_id == waiting.pk


def test_the_beat_schedule_runs_escalations_every_minute():
    from itsm.celery import app

    entry = app.conf.beat_schedule["incidents-run-escalations"]
    assert (entry["task"], entry["schedule"]) == ("incidents.run_escalations", 60.0)
