"""Two agents act on one incident at once: row locks serialise them, a stale version is a 409,
and numbers never repeat (PostgreSQL: real concurrent transactions)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from incidents import services
from incidents.models import Incident
from itsm.exceptions import ConflictError
from itsm.models import AuditEntry

from .conftest import SYSTEM, ctx

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks"),
    pytest.mark.django_db(transaction=True),
]


def _together(*calls):
    barrier = threading.Barrier(len(calls))
    outcomes: list[object] = [None] * len(calls)

    def run(index, call):
        from django.db import connection as thread_connection

        try:
            barrier.wait(timeout=10)
            outcomes[index] = call()
        except Exception as exc:
            outcomes[index] = exc
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def test_two_assigns_with_the_same_version_one_wins(agent, agent2):
    incident = services.incident_open(context=SYSTEM, title="Contended")
    outcomes = _together(
        lambda: services.incident_assign(
            context=ctx(agent), incident=incident.pk, assignee=agent, expected_version=1
        ),
        lambda: services.incident_assign(
            context=ctx(agent2), incident=incident.pk, assignee=agent2, expected_version=1
        ),
    )
    conflicts = [o for o in outcomes if isinstance(o, ConflictError)]
    winners = [o for o in outcomes if isinstance(o, Incident)]
    assert (len(winners), len(conflicts)) == (1, 1), outcomes
    final = Incident.objects.get(pk=incident.pk)
    assert (final.version, final.assignee_id) == (2, winners[0].assignee_id)
    assert AuditEntry.objects.filter(object_id=incident.pk, kind="assigned").count() == 1


def test_two_assigns_without_a_version_both_apply_in_turn(agent, agent2):
    incident = services.incident_open(context=SYSTEM, title="Contended")
    outcomes = _together(
        lambda: services.incident_assign(context=ctx(agent), incident=incident.pk, assignee=agent),
        lambda: services.incident_assign(
            context=ctx(agent2), incident=incident.pk, assignee=agent2
        ),
    )
    assert all(isinstance(o, Incident) for o in outcomes), outcomes
    assert Incident.objects.get(pk=incident.pk).version == 3  # no lost update


def test_concurrent_logging_never_repeats_a_number():
    outcomes = _together(
        *[lambda: services.incident_open(context=SYSTEM, title="Parallel") for _ in range(4)]
    )
    numbers = [o.number for o in outcomes]
    assert len(set(numbers)) == 4, outcomes
