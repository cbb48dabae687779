"""Record numbers (INC-000042, RFC-000007, REL-000003) from a database sequence.

PostgreSQL: a real sequence per kind of record, created by the owning app's migration with
`create_sequence(name)`; `nextval` never hands the same value out twice, even to concurrent
transactions, and never blocks them ("last id + 1" does both wrong). SQLite has no sequences: a
counter row updated inside the caller's transaction (SQLite serialises writers, so this is
race-free there too).
"""

from __future__ import annotations

from django.db import connection, migrations, transaction
from django.db.models import F

from .models import NumberCounter


def next_value(name: str) -> int:
    """The next value of the sequence `name` (1, 2, 3…)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT nextval(%s)", [name])
            return int(cursor.fetchone()[0])
    with transaction.atomic():
        if not NumberCounter.objects.filter(name=name).update(value=F("value") + 1):
            NumberCounter.objects.create(name=name, value=1)
            return 1
        return NumberCounter.objects.values_list("value", flat=True).get(name=name)


def next_values(name: str, count: int) -> list[int]:
    """`count` next values of the sequence `name` in one round trip (bulk creation)."""
    if count <= 0:
        return []
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT nextval(%s) FROM generate_series(1, %s)", [name, count])
            return sorted(int(row[0]) for row in cursor.fetchall())
    with transaction.atomic():
        if not NumberCounter.objects.filter(name=name).update(value=F("value") + count):
            NumberCounter.objects.create(name=name, value=count)
            last = count
        else:
            last = NumberCounter.objects.values_list("value", flat=True).get(name=name)
        return list(range(last - count + 1, last + 1))


def format_number(prefix: str, value: int, width: int = 6) -> str:
    """`INC-000042`."""
    return f"{prefix}-{value:0{width}d}"


def next_number(name: str, prefix: str, width: int = 6) -> str:
    """The next record number, e.g. `next_number("incidents_incident_number", "INC")`."""
    return format_number(prefix, next_value(name), width)


def create_sequence(name: str, *, start_after_sql: str | None = None) -> migrations.RunPython:
    """A migration operation creating the sequence `name` on PostgreSQL (a no-op elsewhere).

    `start_after_sql` is a query answering the highest value already handed out (e.g. the max of
    the numbers of existing rows), so a sequence added to a table with data continues after it.
    """

    def forward(apps, schema_editor) -> None:
        if schema_editor.connection.vendor != "postgresql":
            if start_after_sql:
                with schema_editor.connection.cursor() as cursor:
                    cursor.execute(start_after_sql)
                    start = int((cursor.fetchone() or [0])[0] or 0)
                if start:
                    apps.get_model("itsm", "NumberCounter").objects.update_or_create(
                        name=name, defaults={"value": start}
                    )
            return
        quoted = schema_editor.quote_name(name)
        schema_editor.execute(f"CREATE SEQUENCE IF NOT EXISTS {quoted}")
        if start_after_sql:
            with schema_editor.connection.cursor() as cursor:
                cursor.execute(start_after_sql)
                start = int((cursor.fetchone() or [0])[0] or 0)
            if start:
                schema_editor.execute("SELECT setval(%s, %s)", [name, start])

    def backward(apps, schema_editor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"DROP SEQUENCE IF EXISTS {schema_editor.quote_name(name)}")

    return migrations.RunPython(forward, backward, elidable=False)
