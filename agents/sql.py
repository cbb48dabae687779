"""The agents app's plain SQL: only the statements every signed request runs, where building
an ORM query cost more than PostgreSQL took to answer it (bench/README.md, "Ingest"), and the
identity locks the ORM cannot express.

Rules: every value is bound (`%s`); the text holds only table and column names, taken from the
models' `_meta` into the module constants below. Each function has a test comparing it with
the equivalent ORM query on PostgreSQL and SQLite (tests/agents/test_sql.py). Everything
else in the app uses the ORM.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db import connection

from cmdb.models import ConfigurationItem

from .models import Agent, InventoryReport, InventoryState, Nonce

AGENT_TABLE = Agent._meta.db_table
NONCE_TABLE = Nonce._meta.db_table
REPORT_TABLE = InventoryReport._meta.db_table
STATE_TABLE = InventoryState._meta.db_table
CI_TABLE = ConfigurationItem._meta.db_table

# --- agent by key id (every signed request) ---------------------------------------------------

#: What a signed request needs of its agent; anything else loads on first use.
AGENT_COLUMNS = (
    "id",
    "key_id",
    "name",
    "public_key",
    "status",
    "group_id",
    "ci_id",
    "is_collector",
)
AGENT_BY_KEY_ID = f"SELECT {', '.join(AGENT_COLUMNS)} FROM {AGENT_TABLE} WHERE key_id = %s"


def agent_by_key_id(key_id: str) -> Agent | None:
    """The agent of a key id with only AGENT_COLUMNS loaded, in one narrow query.

    ORM equivalent: `Agent.objects.only(*AGENT_COLUMNS).filter(key_id=key_id).first()`.
    """
    with connection.cursor() as cursor:
        cursor.execute(AGENT_BY_KEY_ID, [key_id])
        row = cursor.fetchone()
    return Agent.from_db(connection.alias, AGENT_COLUMNS, row) if row else None


# --- nonce (every signed request) -------------------------------------------------------------

INSERT_NONCE = (
    f"INSERT INTO {NONCE_TABLE} (agent_id, nonce, created) VALUES (%s, %s, %s) "
    "ON CONFLICT DO NOTHING"
)


def insert_nonce(*, agent_id: int, nonce: str, created: dt.datetime) -> bool:
    """Remember a nonce; False if the agent already used it. One INSERT … ON CONFLICT DO
    NOTHING (PostgreSQL and SQLite): no savepoint round trips, unlike the ORM's
    `get_or_create` or an INSERT caught as IntegrityError."""
    with connection.cursor() as cursor:
        cursor.execute(INSERT_NONCE, [agent_id, nonce, created])
        return cursor.rowcount == 1


# --- report insert (every report) -------------------------------------------------------------

REPORT_FIELDS = tuple(f for f in InventoryReport._meta.concrete_fields if not f.primary_key)
INSERT_REPORT = (
    f"INSERT INTO {REPORT_TABLE} ({', '.join(f.column for f in REPORT_FIELDS)}) "
    f"VALUES ({', '.join(['%s'] * len(REPORT_FIELDS))}) RETURNING id"
)


def insert_report(report: InventoryReport) -> None:
    """INSERT a new report (every field set by the caller) in one statement and set its pk:
    the ORM's `save()` costs twice as long to build as PostgreSQL takes to run it."""
    values = [f.get_db_prep_save(getattr(report, f.attname), connection) for f in REPORT_FIELDS]
    with connection.cursor() as cursor:
        cursor.execute(INSERT_REPORT, values)
        report.pk = cursor.fetchone()[0]
    report._state.adding = False
    report._state.db = connection.alias


# --- unchanged-state check (every report) -----------------------------------------------------

UNCHANGED_STATE = f"""
    SELECT s.id FROM {STATE_TABLE} s
    JOIN {CI_TABLE} c ON c.id = s.ci_id
    WHERE s.ci_id = %s AND s.content_digest = %s AND s.ci_version = c.version
      AND c.status <> %s
"""
NOTHING_WAITING = f"""
      AND NOT EXISTS (
        SELECT 1 FROM {REPORT_TABLE} r
        WHERE r.agent_id = %s AND r.status IN (%s, %s) AND r.attempts < %s
      )
"""


def unchanged_state_id(
    *,
    ci_id: int,
    digest: str,
    excluded_status: str,
    waiting_agent_id: int | None = None,
    waiting_statuses: tuple[str, str] = ("", ""),
    max_attempts: int = 0,
) -> int | None:
    """The id of the CI's inventory state if its content digest is `digest`, the CI's version
    is the one recorded with it and its status is not `excluded_status`; with
    `waiting_agent_id`, only while that agent has no report in `waiting_statuses` with fewer
    than `max_attempts` attempts. One indexed query.

    ORM equivalent: `InventoryState.objects.filter(ci_id=…, content_digest=…,
    ci_version=F("ci__version")).exclude(ci__status=…)` and, with an agent, `.exclude(Exists(
    InventoryReport.objects.filter(agent_id=…, status__in=…, attempts__lt=…)))`.
    """
    sql = UNCHANGED_STATE
    params: list[Any] = [ci_id, digest, excluded_status]
    if waiting_agent_id is not None:
        sql += NOTHING_WAITING
        params += [waiting_agent_id, *waiting_statuses, max_attempts]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return row[0] if row else None


# --- identity locks (PostgreSQL) --------------------------------------------------------------

LOCK_TOKENS = "SELECT pg_advisory_xact_lock(hashtextextended(t, 0)) FROM unnest(%s::text[]) AS t"


def lock_tokens(tokens: Iterable[str]) -> None:
    """Take a transaction-scoped PostgreSQL advisory lock on each token, in sorted order, in
    one statement (unnest yields them in order, so two callers sharing tokens cannot
    deadlock). No-op elsewhere: SQLite serialises writers anyway, and the ORM has no locks
    on values that are not rows yet."""
    tokens = sorted(set(tokens))
    if not tokens or connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(LOCK_TOKENS, [tokens])
