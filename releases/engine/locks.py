"""PostgreSQL advisory locks of the engine (no-ops on SQLite, which serialises writers)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DatabaseError, connection

logger = logging.getLogger(__name__)

#: First key of the engine's advisory locks (second key: the deployment id, 0 = reconciler).
NAMESPACE = 0x52454C  # "REL"


def lock_deployment(deployment_id: int) -> None:
    """Serialise `advance` of one deployment until the end of the current transaction."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [NAMESPACE, deployment_id])


@contextmanager
def reconciler_lock() -> Iterator[bool]:
    """Held by one reconciler at a time across processes: yields whether this one got it.

    Never left held: inside a transaction (an atomic block) it is the transaction's lock, which
    PostgreSQL drops when the transaction ends, rolled back or not (a session lock could not be
    released once an error had aborted the transaction). Outside one (the beat task) it is the
    session's, released on the way out; should that fail, the connection is closed, and the
    lock ends with the session (a worker reuses its connection for many tasks, and a session
    lock left behind would keep every other reconciler out)."""
    if connection.vendor != "postgresql":
        yield True
        return
    if connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s, 0)", [NAMESPACE])
            got = bool(cursor.fetchone()[0])
        yield got
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, 0)", [NAMESPACE])
        got = bool(cursor.fetchone()[0])
    try:
        yield got
    finally:
        if got:
            _release_reconciler_lock()


def _release_reconciler_lock() -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, 0)", [NAMESPACE])
    except DatabaseError:
        logger.warning("could not release the reconciler lock: closing the connection")
        with contextlib.suppress(DatabaseError):
            connection.close()
