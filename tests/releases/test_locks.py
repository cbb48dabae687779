"""The reconciler's advisory lock: one reconciler at a time, and never left held — not after
a failure, not after an error that aborted the transaction it ran in, not when releasing it
fails (PostgreSQL only; SQLite serialises writers)."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from releases.engine.locks import NAMESPACE, reconciler_lock

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def other_session():
    """Another PostgreSQL session (another reconciler's), autocommit."""
    if connection.vendor != "postgresql":
        pytest.skip("advisory locks exist on PostgreSQL only")
    raw = connection.get_new_connection(connection.get_connection_params())
    raw.autocommit = True
    yield raw
    raw.close()


def can_take(session) -> bool:
    """Whether that session gets the reconciler lock now (released again at once)."""
    with session.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, 0)", [NAMESPACE])
        got = bool(cursor.fetchone()[0])
        if got:
            cursor.execute("SELECT pg_advisory_unlock(%s, 0)", [NAMESPACE])
    return got


def held_here() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
            " AND classid = %s AND objid = 0 AND objsubid = 2",
            [NAMESPACE],
        )
        return cursor.fetchone()[0]


def test_one_reconciler_at_a_time(other_session):
    with reconciler_lock() as got:
        assert got
        assert not can_take(other_session)
    assert can_take(other_session)
    assert held_here() == 0


def test_a_reconciler_that_fails_releases_the_lock(other_session):
    with pytest.raises(RuntimeError), reconciler_lock() as got:
        assert got
        raise RuntimeError("advance blew up")
    assert held_here() == 0
    assert can_take(other_session)


def test_a_reconciler_that_did_not_get_the_lock_does_not_release_the_holders(other_session):
    with other_session.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, 0)", [NAMESPACE])
    with reconciler_lock() as got:
        assert not got
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, 0)", [NAMESPACE])
        assert not cursor.fetchone()[0]
    with other_session.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s, 0)", [NAMESPACE])


def test_in_a_transaction_the_lock_lasts_until_it_ends(other_session):
    with transaction.atomic():
        with reconciler_lock() as got:
            assert got
        assert not can_take(other_session)  # the work it covers is not committed yet
    assert can_take(other_session)


def test_an_error_that_aborts_the_transaction_leaves_no_lock_behind(other_session):
    """Released by the end of the transaction: the unlock a session lock needs cannot run in
    an aborted transaction, and the session (reused by a worker) kept it for good."""
    with pytest.raises(DatabaseError), transaction.atomic(), reconciler_lock() as got:
        assert got
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 / 0")
    assert held_here() == 0
    assert can_take(other_session)


def test_a_release_that_fails_closes_the_session_and_the_lock_goes_with_it(other_session):
    with reconciler_lock() as got:
        assert got
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        with other_session.cursor() as cursor:  # the connection drops under the reconciler
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    assert connection.connection is None
    assert can_take(other_session)
    assert held_here() == 0  # a new session
