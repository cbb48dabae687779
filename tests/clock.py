"""A frozen clock for tests (`django.utils.timezone.now`), safe to enter from several threads.

`mock.patch("django.utils.timezone.now")` is not: each patch remembers what it replaced, so
when two threads overlap and leave in the order they entered, the second one puts back the
first one's mock, and `timezone.now` stays frozen for the rest of the process. Every later test
then reads a stuck clock: the release engine's leases never expire and nothing is ever sent
again, so the crash tests (tests/releases/test_crash.py) waited forever when they ran after
such a test in the same process.

Here one replacement is installed while any freeze is active and the real clock comes back
when the last one leaves, whatever the order. A thread reads its own innermost frozen time; a
thread that froze nothing (a worker thread started by the test) reads the latest one entered.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Iterator
from typing import Any

from django.utils import timezone

#: The real clock, as imported before any test ran.
REAL_NOW = timezone.now

_lock = threading.Lock()
#: Active freezes in the order they were entered: [thread id, frozen time].
_active: list[list[Any]] = []


def _frozen_now() -> dt.datetime:
    me = threading.get_ident()
    with _lock:
        for ident, at in reversed(_active):
            if ident == me:
                return at
        if _active:
            return _active[-1][1]
    return REAL_NOW()


@contextlib.contextmanager
def frozen(at: dt.datetime) -> Iterator[None]:
    """Freeze `django.utils.timezone.now` at `at` while in the block (services, selectors and
    tasks read it through the module, so they all see the frozen time)."""
    entry = [threading.get_ident(), at]
    with _lock:
        if not _active:
            timezone.now = _frozen_now
        _active.append(entry)
    try:
        yield
    finally:
        with _lock:
            _active[:] = [e for e in _active if e is not entry]
            if not _active:
                timezone.now = REAL_NOW


def restore_real_now() -> object | None:
    """Put the real clock back if something left `timezone.now` replaced while no freeze is
    active; returns what was left there (None when the clock was the real one)."""
    with _lock:
        current = timezone.now
        if _active or current is REAL_NOW:
            return None
        timezone.now = REAL_NOW
        return current
