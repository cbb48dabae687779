"""Helpers of the `test_sql.py` modules, which compare each plain statement with the ORM."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.db import transaction


class _Rollback(Exception):
    pass


def after(write: Callable[[], Iterable[tuple]]) -> list[tuple]:
    """Run `write()` in a savepoint, return what it answered, then undo it: the raw statement
    and its ORM equivalent each start from the same data."""
    answer: list[tuple] = []
    try:
        with transaction.atomic():
            answer.extend(write())
            raise _Rollback
    except _Rollback:
        pass
    return answer
