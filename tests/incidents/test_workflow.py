"""The incident workflow through its services: allowed and refused moves, required input,
self-service rules, optimistic locking, numbers, the timeline."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from cmdb.models import Person
from incidents import selectors, services
from incidents.choices import (
    INCIDENT_TRANSITIONS,
    OPEN_STATUSES,
    IncidentStatus,
    Source,
)
from incidents.models import Incident, QuickLogTemplate, WorkLogEntry
from itsm.exceptions import ApplicationError, ConflictError, PermissionDeniedError
from itsm.models import AuditEntry
from tests.factories import CIFactory, DepartmentFactory

from .conftest import ctx

pytestmark = pytest.mark.django_db

S = IncidentStatus


def _put(incident: Incident, status: str) -> Incident:
    """Test set-up: place an incident in a status directly."""
    now = timezone.now()
    Incident.objects.filter(pk=incident.pk).update(
        status=status,
        resolved_at=now if status in (S.RESOLVED, S.CLOSED) else None,
        closed_at=now if status == S.CLOSED else None,
        on_hold_since=now if status == S.ON_HOLD else None,
        resolution="done" if status in (S.RESOLVED, S.CLOSED) else "",
    )
    return Incident.objects.get(pk=incident.pk)


def _service_for(target: str, agent):
    c = ctx(agent)
    return {
        S.ASSIGNED: lambda i: services.incident_assign(context=c, incident=i, assignee=agent),
        S.IN_PROGRESS: lambda i: services.incident_start(context=c, incident=i),
        S.ON_HOLD: lambda i: services.incident_hold(context=c, incident=i, reason="waiting"),
        S.RESOLVED: lambda i: services.incident_resolve(
            context=c, incident=i, resolution_method="fix", resolution="Fixed."
        ),
        S.CLOSED: lambda i: services.incident_close(context=c, incident=i),
        S.REOPENED: lambda i: services.incident_reopen(context=c, incident=i, reason="again"),
    }[target]


def _refused():
    cases = []
    for source in S.values:
        for target in S.values:
            if target == S.NEW or target in INCIDENT_TRANSITIONS[source]:
                continue
            if target == S.ASSIGNED and source in OPEN_STATUSES:
                continue  # reassigning an open incident keeps its status (tested below)
            cases.append((source, target))
    return cases


@pytest.mark.parametrize(("source", "target"), _refused(), ids=lambda v: str(v))
def test_every_refused_move_is_refused_and_writes_nothing(source, target, make_incident, agent):
    incident = _put(make_incident(user=agent), source)
    entries = AuditEntry.objects.count()
    with pytest.raises(ApplicationError) as refused:
        _service_for(target, agent)(incident)
    assert refused.value.status_code == 400
    after = Incident.objects.get(pk=incident.pk)
    assert (after.status, after.version) == (source, incident.version)
    assert AuditEntry.objects.count() == entries


@pytest.mark.parametrize(
    ("source", "target"),
    [(s, t) for s, targets in INCIDENT_TRANSITIONS.items() for t in targets],
    ids=lambda v: str(v),
)
def test_every_allowed_move_is_made(source, target, make_incident, agent):
    incident = _put(make_incident(user=agent), source)
    if source == S.ON_HOLD and target == S.IN_PROGRESS:
        moved = services.incident_resume(context=ctx(agent), incident=incident)
    elif target == S.CLOSED and source == S.RESOLVED:
        moved = services.incident_close(context=ctx(agent), incident=incident)
    else:
        moved = _service_for(target, agent)(incident)
    assert moved.status == target
    assert moved.version == incident.version + 1


def test_reassigning_an_open_incident_keeps_its_status(make_incident, agent, agent2):
    incident = _put(make_incident(user=agent), S.IN_PROGRESS)
    moved = services.incident_assign(context=ctx(agent), incident=incident, assignee=agent2)
    assert (moved.status, moved.assignee) == (S.IN_PROGRESS, agent2)


def test_start_on_hold_and_resume_when_not_on_hold_are_refused(make_incident, agent):
    incident = _put(make_incident(user=agent), S.ON_HOLD)
    with pytest.raises(ApplicationError):
        services.incident_start(context=ctx(agent), incident=incident)
    incident = _put(incident, S.ASSIGNED)
    with pytest.raises(ApplicationError):
        services.incident_resume(context=ctx(agent), incident=incident)


@pytest.mark.parametrize("resolution", ["", "   "])
def test_resolving_without_a_resolution_is_refused(resolution, make_incident, agent):
    incident = make_incident(user=agent)
    with pytest.raises(ApplicationError) as refused:
        services.incident_resolve(
            context=ctx(agent), incident=incident, resolution_method="fix", resolution=resolution
        )
    assert "resolution" in refused.value.extra
    assert Incident.objects.get(pk=incident.pk).status == S.NEW


def test_resolving_with_an_unknown_method_is_refused(make_incident, agent):
    incident = make_incident(user=agent)
    with pytest.raises(ApplicationError):
        services.incident_resolve(
            context=ctx(agent), incident=incident, resolution_method="magic", resolution="x"
        )


def test_hold_and_reopen_need_a_reason(make_incident, agent):
    incident = make_incident(user=agent)
    with pytest.raises(ApplicationError):
        services.incident_hold(context=ctx(agent), incident=incident, reason=" ")
    incident = _put(incident, S.RESOLVED)
    with pytest.raises(ApplicationError):
        services.incident_reopen(context=ctx(agent), incident=incident, reason="")


def test_reopening_a_closed_incident_only_within_the_set_time(make_incident, agent, settings):
    settings.INCIDENT_REOPEN_DAYS = 7
    incident = _put(make_incident(user=agent), S.CLOSED)
    Incident.objects.filter(pk=incident.pk).update(closed_at=timezone.now() - dt.timedelta(days=8))
    with pytest.raises(ApplicationError):
        services.incident_reopen(context=ctx(agent), incident=incident, reason="back")
    Incident.objects.filter(pk=incident.pk).update(closed_at=timezone.now() - dt.timedelta(days=6))
    reopened = services.incident_reopen(context=ctx(agent), incident=incident, reason="back")
    assert reopened.status == S.REOPENED
    assert (reopened.sla_cycle, reopened.closed_at, reopened.resolved_at) == (2, None, None)


def test_the_caller_confirms_or_reopens_their_own_resolution(
    make_incident, end_user, other_end_user, agent
):
    mine = make_incident(user=end_user, title="My laptop is slow")
    assert mine.caller == end_user
    assert mine.source == Source.SERVICE_DESK
    _put(mine, S.RESOLVED)
    with pytest.raises(PermissionDeniedError):
        services.incident_confirm(context=ctx(other_end_user), incident=mine)
    with pytest.raises(PermissionDeniedError):
        services.incident_reopen(context=ctx(other_end_user), incident=mine, reason="no")
    reopened = services.incident_reopen(context=ctx(end_user), incident=mine, reason="Still slow")
    assert reopened.status == S.REOPENED
    _put(mine, S.RESOLVED)
    assert services.incident_confirm(context=ctx(end_user), incident=mine).status == S.CLOSED


def test_end_users_cannot_work_incidents(make_incident, end_user, agent):
    mine = make_incident(user=end_user)
    for call in (
        lambda: services.incident_assign(context=ctx(end_user), incident=mine, assignee=agent),
        lambda: services.incident_start(context=ctx(end_user), incident=mine),
        lambda: services.incident_resolve(
            context=ctx(end_user), incident=mine, resolution_method="fix", resolution="x"
        ),
        lambda: services.incident_escalate(context=ctx(end_user), incident=mine, reason="x"),
        lambda: services.incident_update(context=ctx(end_user), incident=mine, data={"title": "x"}),
    ):
        with pytest.raises(PermissionDeniedError):
            call()


def test_end_users_log_for_themselves_with_their_own_devices(end_user, agent):
    mine = CIFactory(name="my-laptop", owner=end_user)
    theirs = CIFactory(name="someone-elses")
    with pytest.raises(ApplicationError) as refused:
        services.incident_open(context=ctx(end_user), title="Broken", cis=[theirs.pk], caller=agent)
    assert refused.value.extra["cis"] == [theirs.pk]
    incident = services.incident_open(
        context=ctx(end_user), title="Broken", cis=[mine.pk], caller=agent, assignee=agent
    )
    assert (incident.caller, incident.assignee, incident.status) == (end_user, None, S.NEW)


def test_a_user_without_a_role_cannot_log(make_user):
    with pytest.raises(PermissionDeniedError):
        services.incident_open(context=ctx(make_user(None)), title="x")


def test_unknown_cis_are_refused_and_nothing_is_written(agent):
    count = Incident.objects.count()
    with pytest.raises(ApplicationError) as refused:
        services.incident_open(context=ctx(agent), title="x", cis=[999_999])
    assert refused.value.extra["cis"] == [999_999]
    assert Incident.objects.count() == count


def test_department_and_role_come_from_the_cmdb(make_user, agent):
    caller = make_user(None)
    sales = DepartmentFactory(name="Sales")
    Person.objects.create(user=caller, department=sales, job_title="Account manager")
    incident = services.incident_open(context=ctx(agent), title="x", caller=caller)
    assert (incident.department, incident.caller_role) == (sales, "Account manager")


def test_numbers_come_from_the_sequence_and_never_repeat(make_incident, agent):
    first = make_incident(user=agent)
    Incident.objects.filter(pk=first.pk).delete()
    second = make_incident(user=agent)
    n1, n2 = int(first.number[4:]), int(second.number[4:])
    assert n2 == n1 + 1  # not "last id + 1" after a delete: the sequence moved on


def test_a_stale_version_is_a_conflict(make_incident, agent):
    incident = make_incident(user=agent)
    services.incident_update(
        context=ctx(agent), incident=incident, data={"title": "New"}, expected_version=1
    )
    with pytest.raises(ConflictError):
        services.incident_update(
            context=ctx(agent), incident=incident, data={"title": "Lost"}, expected_version=1
        )
    assert Incident.objects.get(pk=incident.pk).title == "New"


def test_a_due_date_in_the_past_is_refused(make_incident, agent):
    incident = make_incident(user=agent)
    with pytest.raises(ApplicationError):
        services.incident_update(
            context=ctx(agent),
            incident=incident,
            data={"resolve_due": timezone.now() - dt.timedelta(hours=1)},
        )


def test_reprioritising_recomputes_the_due_times(make_incident, agent):
    incident = make_incident(user=agent, impact="low", urgency="low")
    assert incident.priority == 5
    updated = services.incident_update(
        context=ctx(agent), incident=incident, data={"impact": "high", "urgency": "high"}
    )
    assert updated.priority == 1
    assert updated.resolve_due < incident.resolve_due
    entry = AuditEntry.objects.filter(kind="updated", object_id=incident.pk).get()
    assert {"priority", "resolve_due"} <= set(entry.changes)


def test_assignees_must_be_service_desk_staff(make_incident, agent, end_user):
    incident = make_incident(user=agent)
    with pytest.raises(ApplicationError):
        services.incident_assign(context=ctx(agent), incident=incident, assignee=end_user)
    with pytest.raises(ApplicationError):
        services.incident_assign(context=ctx(agent), incident=incident)


def test_quick_log_logs_and_resolves_in_one_step(agent, make_user):
    template = QuickLogTemplate.objects.get(name="Password reset")
    caller = make_user(None)
    incident = services.incident_quick_log(context=ctx(agent), template=template, caller=caller)
    assert incident.status == S.RESOLVED
    assert (incident.source, incident.caller, incident.assignee) == (
        Source.QUICK_LOG,
        caller,
        agent,
    )
    assert incident.resolution == template.resolution
    assert QuickLogTemplate.objects.filter(name="Printer jam").exists()


def test_link_is_both_ways_and_not_to_itself(make_incident, agent):
    a, b = make_incident(user=agent), make_incident(user=agent)
    services.incident_link(context=ctx(agent), incident=a, related=b)
    assert list(b.related.all()) == [a]
    with pytest.raises(ApplicationError):
        services.incident_link(context=ctx(agent), incident=a, related=a)


def test_worklog_visibility(make_incident, agent, end_user, other_end_user):
    incident = make_incident(user=end_user)
    services.worklog_add(context=ctx(agent), incident=incident, note="internal", minutes=15)
    services.worklog_add(context=ctx(agent), incident=incident, note="Hello", public=True)
    comment = services.worklog_add(
        context=ctx(end_user), incident=incident, note="Thanks", minutes=99, public=False
    )
    assert (comment.public, comment.minutes) == (True, 0)  # end users comment publicly
    with pytest.raises(PermissionDeniedError):
        services.worklog_add(context=ctx(other_end_user), incident=incident, note="Hi")
    with pytest.raises(ApplicationError):
        services.worklog_add(context=ctx(agent), incident=incident, note="  ")
    public = selectors.incident_timeline(incident, public_only=True)
    assert [i.note for i in public if i.kind == "worklog"] == ["Thanks", "Hello"]
    everything = selectors.incident_timeline(incident)
    assert "internal" in [i.note for i in everything]
    assert Incident.objects.get(pk=incident.pk).responded_at is not None
    assert WorkLogEntry.objects.filter(incident=incident).count() == 3


def test_the_timeline_shows_every_event_newest_first(make_incident, agent):
    incident = make_incident(user=agent)
    services.incident_assign(context=ctx(agent), incident=incident, assignee=agent, note="mine")
    services.incident_escalate(context=ctx(agent), incident=incident, reason="VIP")
    services.incident_resolve(
        context=ctx(agent), incident=incident, resolution_method="fix", resolution="ok"
    )
    kinds = [item.kind for item in selectors.incident_timeline(incident)]
    assert kinds[0] == "resolved"
    assert {"created", "assigned", "escalated", "worklog"} <= set(kinds)


def test_visibility_and_queues(make_incident, agent, agent2, end_user, other_end_user):
    mine = make_incident(user=end_user)
    make_incident(user=other_end_user)
    assert list(selectors.incidents_visible_to(end_user)) == [mine]
    assert selectors.incidents_visible_to(agent).count() == 2
    services.incident_assign(context=ctx(agent), incident=mine, assignee=agent2)
    assert list(selectors.incident_queue(user=agent2, scope="mine")) == [mine]
    assert selectors.incident_queue(user=agent, scope="unassigned").count() == 1
    assert selectors.incident_queue(user=agent, scope="all").count() == 2


def test_user_devices(end_user):
    owned = CIFactory(name="owned", owner=end_user)
    CIFactory(name="other")
    assert list(selectors.user_devices(end_user)) == [owned]


def test_the_number_sequence_continues_after_existing_numbers(agent):
    """The migration creating the sequence starts it after the INC- numbers already handed
    out (numbers of the first version were "last id + 1")."""
    import importlib
    import types

    from django.apps import apps
    from django.db import connection

    migration = importlib.import_module("incidents.migrations.0003_sequence_and_defaults")
    Incident.objects.create(number="INC-000700", title="from before the sequence")
    editor = types.SimpleNamespace(
        connection=connection,
        execute=lambda sql, params=(): connection.cursor().execute(sql, params),
        quote_name=connection.ops.quote_name,
    )
    migration.Migration.operations[0].code(apps, editor)
    assert make_number(agent) == "INC-000701"


def make_number(agent) -> str:
    return services.incident_open(context=ctx(agent), title="after").number


def test_the_timeline_reads_as_names(make_incident, agent, agent2):
    ci = CIFactory(name="mail-server")
    incident = make_incident(user=agent, cis=[ci])
    services.incident_assign(context=ctx(agent), incident=incident, assignee=agent2)
    timeline = selectors.incident_timeline(incident)
    assigned = next(item for item in timeline if item.kind == "assigned")
    name = agent2.get_full_name() or agent2.get_username()
    assert f"Assignee: {name}" in assigned.summary
    assert "Status: New → Assigned" in assigned.summary
    created = next(item for item in timeline if item.kind == "created")
    assert "CIs: + mail-server" in created.summary
    assert "Priority: P3" in created.summary
