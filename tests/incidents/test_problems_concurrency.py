"""Concurrent moves of one problem on PostgreSQL: the row lock serialises them, so exactly one
of two conflicting moves wins and the other is refused from the state the first left."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections

from incidents import problem_services as ps
from incidents.models import Incident
from itsm.audit import ChangeContext
from itsm.exceptions import ApplicationError

from .problem_factories import SYSTEM, make_incident, make_problem


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_resolve_and_cancel_at_once_one_wins(monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL; SQLite serialises writers anyway")
    incident = make_incident()
    problem = make_problem(incidents=[incident])

    lock = ps._lock

    def slow_lock(problem_id, expected_version=None):
        locked = lock(problem_id, expected_version)
        time.sleep(0.3)  # hold the lock so the other move surely waits for it
        return locked

    monkeypatch.setattr(ps, "_lock", slow_lock)
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def run(name, move):
        try:
            barrier.wait()
            move()
            outcomes[name] = "done"
        except ApplicationError as exc:
            outcomes[name] = f"refused: {exc.message}"
        except BaseException as exc:  # pragma: no cover - reported below
            outcomes[name] = f"error: {exc!r}"
        finally:
            connections.close_all()

    moves = {
        "resolve": lambda: ps.problem_resolve(
            context=SYSTEM, problem_id=problem.pk, resolution="Fixed", resolve_incidents=True
        ),
        "cancel": lambda: ps.problem_cancel(
            context=ChangeContext(source="system", reason="Duplicate"), problem_id=problem.pk
        ),
    }
    threads = [threading.Thread(target=run, args=item) for item in moves.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(o.split(":")[0] for o in outcomes.values()) == ["done", "refused"], outcomes
    problem.refresh_from_db()
    winner = next(name for name, o in outcomes.items() if o == "done")
    assert problem.status == {"resolve": "resolved", "cancel": "cancelled"}[winner]
    expected_incident = "resolved" if winner == "resolve" else "new"
    assert Incident.objects.get(pk=incident.pk).status == expected_incident
    assert problem.version == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_trend_refreshes_at_once_do_not_collide():
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL; SQLite serialises writers anyway")
    from incidents import trends
    from incidents.models import IncidentDailyCount

    for _ in range(5):
        make_incident(category="Printing")
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run():
        try:
            barrier.wait()
            trends.refresh()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    assert IncidentDailyCount.objects.get(dimension="category", value="Printing").count == 5
