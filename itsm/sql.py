"""The itsm app's plain SQL: the audit log's COPY (several times faster than a multi-row
INSERT for thousands of entries: the agent path and imports write hundreds at once) and the
readiness probe's round trip.

Rules: every value is bound or streamed; the text holds only table and column names, taken
from the models' `_meta` into module constants. Tested against the ORM's answer
(tests/itsm/test_sql.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection

from .models import AuditEntry

AUDIT_TABLE = AuditEntry._meta.db_table
AUDIT_COPY_COLUMNS = (
    "content_type_id",
    "object_id",
    "object_repr",
    "kind",
    "at",
    "actor_id",
    "actor_name",
    "source",
    "source_ref",
    "reason",
    "request_id",
    "changes",
)
COPY_AUDIT = f"COPY {AUDIT_TABLE} ({', '.join(AUDIT_COPY_COLUMNS)}) FROM STDIN"


def copy_audit_entries(entries: Sequence[AuditEntry]) -> None:
    """Write unsaved entries with one COPY (PostgreSQL only; their pks stay unset), logged
    like a query so query counts and debug tools see it. ORM equivalent:
    `AuditEntry.objects.bulk_create(entries)`."""
    if connection.queries_logged:
        connection.queries_log.append(
            {"sql": f"{COPY_AUDIT} -- {len(entries)} rows", "time": "0.000"}
        )
    with connection.cursor() as cursor, cursor.cursor.copy(COPY_AUDIT) as copy:
        for e in entries:
            copy.write_row(
                (
                    e.content_type_id,
                    e.object_id,
                    e.object_repr,
                    e.kind,
                    e.at,
                    e.actor_id,
                    e.actor_name,
                    e.source,
                    e.source_ref,
                    e.reason,
                    e.request_id,
                    json.dumps(e.changes, cls=DjangoJSONEncoder),
                )
            )


def ping() -> None:
    """One round trip to the database (`SELECT 1`); raises if it is unreachable."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
