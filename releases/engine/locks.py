"""PostgreSQL advisory locks of the engine (no-ops on SQLite, which serialises writers)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

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
    """Held by one reconciler at a time across processes: yields whether this one got it."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, 0)", [NAMESPACE])
        got = bool(cursor.fetchone()[0])
    try:
        yield got
    finally:
        if got:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, 0)", [NAMESPACE])
