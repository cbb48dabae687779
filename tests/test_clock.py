"""The tests' frozen clock comes back to the real one, whichever threads froze it and in
whatever order they left: a clock left frozen stopped every later lease from expiring in the
same pytest process (the release crash tests then waited forever for the reconciler)."""

from __future__ import annotations

import datetime as dt
import threading
from unittest import mock

from django.utils import timezone

from tests import clock
from tests.clock import frozen

MONDAY = dt.datetime(2026, 12, 7, 9, tzinfo=dt.UTC)
TUESDAY = dt.datetime(2026, 12, 8, 9, tzinfo=dt.UTC)


def _overlap(first_at, second_at, *, seen: dict[str, dt.datetime]) -> None:
    """Two threads freeze the clock; the first enters, then the second, then the first
    leaves, then the second (what barrier-synchronised concurrency tests do)."""
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with frozen(first_at):
                first_in.set()
                assert second_in.wait(10)
                seen["first"] = timezone.now()
        except BaseException as exc:
            errors.append(exc)
        finally:
            first_out.set()

    def second() -> None:
        try:
            assert first_in.wait(10)
            with frozen(second_at):
                second_in.set()
                assert first_out.wait(10)
                seen["second"] = timezone.now()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors


def test_the_real_clock_comes_back_when_overlapping_threads_leave_in_entry_order():
    seen: dict[str, dt.datetime] = {}
    _overlap(MONDAY, TUESDAY, seen=seen)
    assert timezone.now is clock.REAL_NOW
    assert abs(timezone.now() - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)


def test_each_thread_reads_its_own_frozen_time():
    seen: dict[str, dt.datetime] = {}
    _overlap(MONDAY, TUESDAY, seen=seen)
    assert seen == {"first": MONDAY, "second": TUESDAY}


def test_a_thread_that_froze_nothing_reads_the_latest_freeze():
    seen: list[dt.datetime] = []
    with frozen(MONDAY):
        worker = threading.Thread(target=lambda: seen.append(timezone.now()))
        worker.start()
        worker.join(10)
        with frozen(TUESDAY):
            assert timezone.now() == TUESDAY
        assert timezone.now() == MONDAY
    assert seen == [MONDAY]
    assert timezone.now is clock.REAL_NOW


def test_a_clock_left_patched_is_put_back_and_reported():
    leaked = mock.patch("django.utils.timezone.now", return_value=MONDAY)
    leaked.start()  # never stopped: what overlapping mock.patch calls in threads amounted to
    left = clock.restore_real_now()
    assert left is not None and left() == MONDAY
    assert timezone.now is clock.REAL_NOW
    assert clock.restore_real_now() is None
