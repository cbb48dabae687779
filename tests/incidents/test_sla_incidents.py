"""SLAs on incidents: due times when logged and re-prioritised, across a weekend and a public
holiday, the pause on hold, the breach (frozen clock), the most specific policy."""

from __future__ import annotations

import datetime as dt

import pytest

from incidents import services, sla_services
from incidents.api.serializers import IncidentSerializer
from incidents.models import BusinessCalendar, Incident, SlaPolicy, WorkingHours
from incidents.tasks import run_escalations
from itsm.models import AuditEntry
from tests.factories import CIFactory, CITypeFactory, DepartmentFactory

from .conftest import ctx, frozen

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def at(*args):
    return dt.datetime(*args, tzinfo=UTC)


@pytest.fixture
def office_de(db):
    """Mon-Fri 09-17 UTC with German public holidays; P3: respond in 1 h, resolve in 4 h."""
    calendar = BusinessCalendar.objects.create(name="DE office", time_zone="UTC", country="DE")
    for day in range(5):
        WorkingHours.objects.create(
            calendar=calendar, weekday=day, start=dt.time(9), end=dt.time(17)
        )
    SlaPolicy.objects.filter(priority=3).update(
        calendar=calendar, response_minutes=60, resolution_minutes=240
    )
    return calendar


def log(agent, **kwargs):
    return services.incident_open(context=ctx(agent), title="Printer offline", **kwargs)


def test_due_times_across_a_weekend(office_de, agent):
    with frozen(at(2026, 12, 4, 15)):  # Friday 15:00
        incident = log(agent)
    assert incident.priority == 3
    assert incident.response_due == at(2026, 12, 4, 16)
    assert incident.resolve_due == at(2026, 12, 7, 11)  # 2 h Friday + 2 h Monday


def test_due_times_across_a_public_holiday(office_de, agent):
    with frozen(at(2026, 12, 24, 16)):  # Thursday before Christmas (Fri 25, Sat 26 off)
        incident = log(agent)
    assert incident.response_due == at(2026, 12, 24, 17)
    assert incident.resolve_due == at(2026, 12, 28, 12)  # 1 h Thu + 3 h Mon 28th


def test_on_hold_pauses_the_clock(office_de, agent):
    with frozen(at(2026, 12, 1, 9)):  # Tuesday
        incident = log(agent, assignee=agent)
    assert incident.resolve_due == at(2026, 12, 1, 13)
    with frozen(at(2026, 12, 1, 10)):
        incident = services.incident_hold(context=ctx(agent), incident=incident, reason="caller")
    with frozen(at(2026, 12, 1, 12, 30)):
        serialized = IncidentSerializer(Incident.objects.get(pk=incident.pk)).data
        assert serialized["resolve_remaining_s"] == 3 * 3600  # frozen while on hold
        assert run_escalations.apply().get()["breached"] == 0  # no breach while on hold
    with frozen(at(2026, 12, 2, 10)):  # 8 business hours on hold (Tue 10-17, Wed 9-10)
        incident = services.incident_resume(context=ctx(agent), incident=incident)
    assert incident.hold_business_s == 8 * 3600
    assert incident.resolve_due == at(2026, 12, 2, 13)  # 13:00 Tuesday + 8 business hours
    resumed = AuditEntry.objects.filter(object_id=incident.pk, kind="status").first()
    assert "resolve_due" in resumed.changes


def test_breach_with_a_frozen_clock(office_de, agent):
    with frozen(at(2026, 12, 1, 9)):
        incident = log(agent)
    with frozen(at(2026, 12, 1, 9, 59)):
        assert run_escalations.apply().get()["breached"] == 0
    with frozen(at(2026, 12, 1, 10, 1)):  # no response by 10:00
        assert run_escalations.apply().get()["breached"] == 1
    Incident.objects.filter(pk=incident.pk).update(
        sla_breached=False, responded_at=at(2026, 12, 1, 9, 30)
    )
    with frozen(at(2026, 12, 1, 12, 59)):
        assert run_escalations.apply().get()["breached"] == 0
        data = IncidentSerializer(Incident.objects.get(pk=incident.pk)).data
        assert (data["resolve_remaining_s"], data["response_remaining_s"]) == (60, None)
    with frozen(at(2026, 12, 1, 13, 1)):
        assert run_escalations.apply().get()["breached"] == 1
        assert run_escalations.apply().get()["breached"] == 0  # flagged once
    assert Incident.objects.get(pk=incident.pk).sla_breached
    assert AuditEntry.objects.filter(object_id=incident.pk, kind="sla_breached").count() == 2


def test_resolving_late_marks_the_breach(office_de, agent):
    with frozen(at(2026, 12, 1, 9)):
        incident = log(agent)
    with frozen(at(2026, 12, 2, 9)):
        resolved = services.incident_resolve(
            context=ctx(agent), incident=incident, resolution_method="fix", resolution="ok"
        )
    assert resolved.sla_breached


def test_the_most_specific_policy_wins(office_de, agent):
    laptop = CITypeFactory(name="SLA laptop", slug="laptop-sla")
    sales = DepartmentFactory(name="Sales SLA")
    SlaPolicy.objects.create(
        name="P3 laptops", priority=3, ci_type=laptop, calendar=office_de,
        response_minutes=30, resolution_minutes=120,
    )  # fmt: skip
    SlaPolicy.objects.create(
        name="P3 sales", priority=3, department=sales, calendar=office_de,
        response_minutes=45, resolution_minutes=180,
    )  # fmt: skip
    both = SlaPolicy.objects.create(
        name="P3 sales laptops", priority=3, ci_type=laptop, department=sales,
        calendar=office_de, response_minutes=10, resolution_minutes=60,
    )  # fmt: skip
    ci = CIFactory(ci_type=laptop, name="lp-1")
    pick = sla_services.policy_for
    assert pick(priority=3, ci_type_ids=[ci.ci_type_id], department_id=sales.pk) == both
    assert pick(priority=3, ci_type_ids=[ci.ci_type_id]).name == "P3 laptops"
    assert pick(priority=3, department_id=sales.pk).name == "P3 sales"
    assert pick(priority=3).name == "P3 default"
    incident = log(agent, cis=[ci], department=sales)
    assert (incident.sla_policy, incident.resolve_target_min) == (both, 60)


def test_every_priority_has_a_default_policy():
    assert sorted(
        SlaPolicy.objects.filter(ci_type=None, department=None).values_list("priority", flat=True)
    ) == [1, 2, 3, 4, 5]
