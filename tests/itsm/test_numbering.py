"""Record numbers come from a sequence: consecutive, never repeated, also under concurrency."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from itsm.numbering import format_number, next_number, next_value

pytestmark = pytest.mark.django_db


@pytest.fixture
def sequence():
    name = "test_numbering_seq"
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE SEQUENCE IF NOT EXISTS "{name}"')
    return name


def test_values_are_consecutive(sequence):
    first = next_value(sequence)
    assert [next_value(sequence) for _ in range(3)] == [first + 1, first + 2, first + 3]


def test_number_format(sequence):
    assert next_number(sequence, "INC").startswith("INC-")
    assert format_number("RFC", 42) == "RFC-000042"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_callers_never_share_a_value():
    if connection.vendor != "postgresql":
        pytest.skip("sequences are PostgreSQL's")
    name = "test_numbering_concurrent"
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SEQUENCE IF NOT EXISTS "{name}"')
    seen: list[int] = []
    lock = threading.Lock()

    def take() -> None:
        try:
            values = [next_value(name) for _ in range(25)]
            with lock:
                seen.extend(values)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=take) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 100 and len(set(seen)) == 100
    with connection.cursor() as cursor:
        cursor.execute(f'DROP SEQUENCE "{name}"')
