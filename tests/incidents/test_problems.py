"""Problem services: creation from incidents, every move of the state machine, the cause,
the known error, resolving with the open incidents, permissions and the audit trail."""

from __future__ import annotations

import itertools

import pytest

from incidents import problem_services as ps
from incidents.models import Incident, KnownError, Problem
from incidents.problem_choices import PROBLEM_TRANSITIONS, ProblemStatus
from itsm import roles
from itsm.audit import ChangeContext, entries_for
from itsm.exceptions import ApplicationError, ConflictError, PermissionDeniedError

from .problem_factories import SYSTEM, make_incident, make_problem

pytestmark = pytest.mark.django_db


def _at(status: str) -> Problem:
    """A problem brought to `status` through the services."""
    problem = make_problem()
    path = {
        ProblemStatus.NEW: [],
        ProblemStatus.UNDER_INVESTIGATION: ["investigate"],
        ProblemStatus.KNOWN_ERROR: ["cause", "publish"],
        ProblemStatus.RESOLVED: ["resolve"],
        ProblemStatus.CLOSED: ["resolve", "close"],
        ProblemStatus.CANCELLED: ["cancel"],
    }[status]
    for step in path:
        _do(step, problem)
    problem.refresh_from_db()
    assert problem.status == status
    return problem


def _do(step: str, problem: Problem):
    if step == "investigate":
        return ps.problem_start_investigation(context=SYSTEM, problem_id=problem.pk)
    if step == "cause":
        return ps.problem_record_cause(
            context=SYSTEM, problem_id=problem.pk, root_cause="Driver 4.1"
        )
    if step == "publish":
        return ps.problem_publish_known_error(
            context=SYSTEM, problem_id=problem.pk, symptoms="Jams"
        )
    if step == "resolve":
        return ps.problem_resolve(context=SYSTEM, problem_id=problem.pk, resolution="Driver 4.2")
    if step == "close":
        return ps.problem_close(context=SYSTEM, problem_id=problem.pk)
    if step == "cancel":
        ctx = ChangeContext(source="system", reason="Duplicate")
        return ps.problem_cancel(context=ctx, problem_id=problem.pk)
    raise AssertionError(step)


MOVE_STEP = {
    ProblemStatus.UNDER_INVESTIGATION: "investigate",
    ProblemStatus.RESOLVED: "resolve",
    ProblemStatus.CLOSED: "close",
    ProblemStatus.CANCELLED: "cancel",
}


@pytest.mark.parametrize(
    ("source", "target"),
    [(s, t) for s, t in itertools.product(ProblemStatus.values, MOVE_STEP) if s != t],
)
def test_every_move_is_allowed_or_refused_per_the_table(source, target):
    problem = _at(source)
    before = problem.status
    if target in PROBLEM_TRANSITIONS[source]:
        _do(MOVE_STEP[target], problem)
        problem.refresh_from_db()
        assert problem.status == target
    else:
        with pytest.raises(ApplicationError) as refused:
            _do(MOVE_STEP[target], problem)
        assert "cannot move" in refused.value.message
        problem.refresh_from_db()
        assert problem.status == before


def test_create_from_incidents_numbers_and_records():
    first, second = make_incident(priority=2), make_incident(priority=4)
    problem = make_problem(incidents=[first.pk, second])
    assert problem.number.startswith("PRB-")
    assert problem.priority == 2  # the most urgent of its incidents
    assert set(problem.incidents.all()) == {first, second}
    other = make_problem()
    assert other.number != problem.number
    entry = entries_for(problem).get()
    assert entry.kind == "created"
    assert entry.changes["incidents"]["added"] == sorted([first.pk, second.pk])


def test_create_refuses_unknown_incidents_and_a_blank_title():
    with pytest.raises(ApplicationError):
        make_problem(incidents=[999_999])
    with pytest.raises(ApplicationError):
        make_problem(title="  ")
    assert not Problem.objects.exists()


def test_link_and_unlink_incidents_is_recorded():
    a, b = make_incident(), make_incident()
    problem = make_problem(incidents=[a])
    ps.problem_link_incidents(context=SYSTEM, problem_id=problem.pk, incidents=[b], unlink=[a])
    assert list(problem.incidents.all()) == [b]
    assert entries_for(problem).first().changes == {
        "incidents": {"added": [b.pk], "removed": [a.pk]}
    }


def test_a_closed_problem_takes_no_more_incidents():
    problem = _at(ProblemStatus.CLOSED)
    with pytest.raises(ApplicationError):
        ps.problem_link_incidents(
            context=SYSTEM, problem_id=problem.pk, incidents=[make_incident()]
        )


def test_recording_the_cause_starts_the_investigation():
    problem = make_problem()
    ps.problem_record_cause(
        context=SYSTEM, problem_id=problem.pk, root_cause="Driver 4.1", workaround="Use tray 2"
    )
    problem.refresh_from_db()
    assert problem.status == ProblemStatus.UNDER_INVESTIGATION
    assert (problem.root_cause, problem.workaround) == ("Driver 4.1", "Use tray 2")
    with pytest.raises(ApplicationError):
        ps.problem_record_cause(context=SYSTEM, problem_id=problem.pk, root_cause=" ")


def test_a_stale_version_is_a_conflict():
    problem = make_problem()
    with pytest.raises(ConflictError):
        ps.problem_record_cause(
            context=SYSTEM, problem_id=problem.pk, root_cause="x", expected_version=99
        )


def test_publishing_needs_a_cause_and_makes_a_known_error(make_user):
    problem = make_problem(incidents=[make_incident(category="Printing")])
    with pytest.raises(ApplicationError):
        ps.problem_publish_known_error(context=SYSTEM, problem_id=problem.pk)
    ps.problem_record_cause(
        context=SYSTEM, problem_id=problem.pk, root_cause="Driver 4.1", workaround="Tray 2"
    )
    known_error = ps.problem_publish_known_error(
        context=SYSTEM, problem_id=problem.pk, symptoms="Paper jams on duplex"
    )
    problem.refresh_from_db()
    assert problem.status == ProblemStatus.KNOWN_ERROR
    assert problem.known_error == known_error
    assert known_error.published and known_error.category == "Printing"
    assert (known_error.root_cause, known_error.workaround) == ("Driver 4.1", "Tray 2")
    # publishing again updates the same known error
    again = ps.problem_publish_known_error(
        context=SYSTEM, problem_id=problem.pk, solution="Install 4.2", publish=False
    )
    assert again.pk == known_error.pk and KnownError.objects.count() == 1
    assert not KnownError.objects.get().published


def test_resolving_offers_to_resolve_the_open_incidents():
    open_a, open_b = make_incident(), make_incident(status="assigned")
    done = make_incident(status="closed")
    problem = make_problem(incidents=[open_a, open_b, done])
    assert ps.problem_open_incidents(problem) == [open_a, open_b]
    ps.problem_resolve(
        context=SYSTEM,
        problem_id=problem.pk,
        resolution="Driver 4.2 rolled out",
        resolve_incidents=True,
        incident_ids=[open_a.pk],
    )
    statuses = dict(Incident.objects.values_list("pk", "status"))
    assert statuses == {open_a.pk: "resolved", open_b.pk: "assigned", done.pk: "closed"}
    problem.refresh_from_db()
    assert problem.status == ProblemStatus.RESOLVED and problem.resolved_at
    # through the incidents' own service: method, notes, time and the incident's audit entry
    open_a.refresh_from_db()
    assert open_a.resolution_method == "fix" and open_a.resolved_at
    assert problem.number in open_a.resolution
    assert entries_for(open_a).first().kind == "resolved"


def test_a_refused_incident_resolution_undoes_the_whole_resolve():
    incident = make_incident()
    problem = make_problem(incidents=[incident])
    with pytest.raises(ApplicationError):
        ps.problem_resolve(
            context=SYSTEM,
            problem_id=problem.pk,
            resolution="Fixed",
            resolve_incidents=True,
            resolution_method="magic",
        )
    problem.refresh_from_db()
    incident.refresh_from_db()
    assert (problem.status, incident.status) == (ProblemStatus.NEW, "new")


def test_resolving_refuses_incidents_not_open_on_the_problem_and_writes_nothing():
    incident = make_incident()
    stranger = make_incident()
    problem = make_problem(incidents=[incident])
    with pytest.raises(ApplicationError):
        ps.problem_resolve(
            context=SYSTEM,
            problem_id=problem.pk,
            resolution="x",
            resolve_incidents=True,
            incident_ids=[stranger.pk],
        )
    problem.refresh_from_db()
    assert problem.status == ProblemStatus.NEW
    assert Incident.objects.get(pk=incident.pk).status == "new"


def test_resolving_needs_a_resolution_and_cancelling_a_reason():
    problem = make_problem()
    with pytest.raises(ApplicationError):
        ps.problem_resolve(context=SYSTEM, problem_id=problem.pk, resolution="")
    with pytest.raises(ApplicationError):
        ps.problem_cancel(context=SYSTEM, problem_id=problem.pk)
    problem.refresh_from_db()
    assert problem.status == ProblemStatus.NEW


def test_service_desk_may_raise_a_problem_but_not_work_it(make_user):
    desk = ChangeContext(actor=make_user(roles.SERVICE_DESK))
    problem = make_problem(context=desk, incidents=[make_incident()])
    with pytest.raises(PermissionDeniedError):
        ps.problem_record_cause(context=desk, problem_id=problem.pk, root_cause="x")
    reader = ChangeContext(actor=make_user(roles.READ_ONLY))
    with pytest.raises(PermissionDeniedError):
        make_problem(context=reader)
    manager = ChangeContext(actor=make_user(roles.PROBLEM_MANAGER))
    ps.problem_record_cause(context=manager, problem_id=problem.pk, root_cause="x")
    assert entries_for(problem).first().actor == manager.actor
