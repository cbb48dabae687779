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

from django.contrib.auth import get_user_model
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection

from .models import ApiToken, AuditEntry

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


# --- API token look-up --------------------------------------------------------------------
# Every token-authenticated API call runs it, uncached (a user deactivated in the database must
# lose access at once): the ORM spent longer building it than PostgreSQL took to answer.
_USER = get_user_model()
TOKEN_TABLE = ApiToken._meta.db_table
USER_TABLE = _USER._meta.db_table
TOKEN_COLUMNS = tuple(f.attname for f in ApiToken._meta.concrete_fields)
USER_COLUMNS = tuple(f.attname for f in _USER._meta.concrete_fields)
SELECT_TOKEN_WITH_USER = (
    f"SELECT {', '.join('t.' + c for c in TOKEN_COLUMNS)}, "
    f"{', '.join('u.' + c for c in USER_COLUMNS)} "
    f"FROM {TOKEN_TABLE} t JOIN {USER_TABLE} u ON u.id = t.user_id WHERE t.key_hash = %s"
)


def token_with_user(key_hash: str) -> ApiToken | None:
    """The token stored under `key_hash` with its user loaded, or None. ORM equivalent:
    `ApiToken.objects.select_related("user").filter(key_hash=key_hash).first()`."""
    with connection.cursor() as cursor:
        cursor.execute(SELECT_TOKEN_WITH_USER, [key_hash])
        row = cursor.fetchone()
    if row is None:
        return None
    split = len(TOKEN_COLUMNS)
    token = ApiToken.from_db(connection.alias, TOKEN_COLUMNS, _converted(ApiToken, row[:split]))
    token.user = _USER.from_db(connection.alias, USER_COLUMNS, _converted(_USER, row[split:]))
    return token


_CONVERTERS: dict[tuple[str, type], list] = {}


def _converters(model) -> list:
    """(column, converters) per concrete field, as the ORM applies them; once per database."""
    key = (connection.vendor, model)
    if key not in _CONVERTERS:
        _CONVERTERS[key] = [
            (col, connection.ops.get_db_converters(col) + field.get_db_converters(connection))
            for field in model._meta.concrete_fields
            for col in [field.get_col(model._meta.db_table)]
        ]
    return _CONVERTERS[key]


def _converted(model, values: Sequence) -> list:
    """Values of a raw row as the ORM would give them (e.g. aware datetimes on SQLite)."""
    out = []
    for (col, converters), value in zip(_converters(model), values, strict=True):
        for convert in converters:
            value = convert(value, col, connection)
        out.append(value)
    return out
