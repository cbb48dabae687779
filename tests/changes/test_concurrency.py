"""Concurrent votes and schedules on PostgreSQL: none is lost, none counted twice."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections

from changes import services
from changes.choices import ChangeStatus
from changes.models import Change, Vote
from itsm.audit import entries_for
from tests.changes.conftest import NOW, ctx, restore_change_defaults

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL; SQLite serialises writers anyway")
    restore_change_defaults()


@pytest.fixture
def slow_lock(monkeypatch):
    """Hold the RFC's lock a moment once taken, so the second call surely overlaps."""
    lock = services.lock_change

    def slow(change, **kw):
        locked = lock(change, **kw)
        time.sleep(0.3)
        return locked

    monkeypatch.setattr(services, "lock_change", slow)


def run_together(*calls):
    barrier = threading.Barrier(len(calls))
    errors: list[BaseException] = []

    def run(call):
        try:
            barrier.wait()
            call()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return errors


def test_two_votes_at_once_are_both_counted(submitted, cab, slow_lock):
    change = submitted()
    errors = run_together(
        *[
            (
                lambda m=member: services.change_vote(
                    context=ctx(m), change=change, decision="approve"
                )
            )
            for member in cab[:2]
        ]
    )
    assert not errors
    assert Vote.objects.filter(change=change).count() == 2
    change.refresh_from_db()
    assert change.status == ChangeStatus.APPROVED  # the second vote saw the first
    assert entries_for(change).filter(kind="approved").count() == 1


def test_the_same_member_voting_twice_at_once_counts_once(submitted, cab, slow_lock):
    change = submitted()
    errors = run_together(
        lambda: services.change_vote(context=ctx(cab[0]), change=change, decision="approve"),
        lambda: services.change_vote(context=ctx(cab[0]), change=change, decision="reject"),
    )
    assert len(errors) == 1 and "already voted" in str(errors[0])
    assert Vote.objects.filter(change=change).count() == 1


def test_two_schedules_at_once_both_apply_in_turn(approved, manager, slow_lock):
    import datetime as dt

    change = approved()
    windows = [
        (NOW + dt.timedelta(days=3), NOW + dt.timedelta(days=3, hours=1)),
        (NOW + dt.timedelta(days=4), NOW + dt.timedelta(days=4, hours=1)),
    ]
    version = Change.objects.get(pk=change.pk).version
    errors = run_together(
        *[
            (lambda w=w: services.change_schedule(context=ctx(manager), change=change,
                                                  start=w[0], end=w[1]))
            for w in windows
        ]
    )  # fmt: skip
    assert not errors
    change.refresh_from_db()
    assert change.status == ChangeStatus.SCHEDULED
    assert (change.planned_start, change.planned_end) in windows
    assert change.version == version + 2
    assert entries_for(change).filter(kind="scheduled").count() == 2
