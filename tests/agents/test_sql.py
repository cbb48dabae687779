"""Each statement of agents/sql.py against the ORM's answer on the same data (PostgreSQL and
SQLite; the advisory locks exist on PostgreSQL only)."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from django.db import connection, transaction
from django.db.models import Exists, F
from django.utils import timezone

from agents import sql
from agents.choices import ReportStatus
from agents.models import Agent, InventoryReport, InventoryState, Nonce
from cmdb.choices import CIStatus
from tests.agents.conftest import make_agent
from tests.factories import CIFactory

pytestmark = pytest.mark.django_db

WAITING = (ReportStatus.RECEIVED, ReportStatus.FAILED)


def test_agent_by_key_id_matches_the_orm():
    bound = make_agent(name="bound").agent
    bound.ci = CIFactory(name="bound-ci")
    bound.is_collector = True
    bound.save()
    make_agent(name="other")
    for key_id in [bound.key_id, "agt_missing", ""]:
        raw = sql.agent_by_key_id(key_id)
        orm = Agent.objects.only(*sql.AGENT_COLUMNS).filter(key_id=key_id).first()
        if orm is None:
            assert raw is None
            continue
        assert raw.get_deferred_fields() == orm.get_deferred_fields()
        assert [getattr(raw, c) for c in sql.AGENT_COLUMNS] == [
            getattr(orm, c) for c in sql.AGENT_COLUMNS
        ]
        assert raw.status == orm.status and raw.ci_id == bound.ci.pk and raw.is_collector


def test_insert_nonce_matches_get_or_create():
    first, second = make_agent().agent, make_agent().agent
    now = timezone.now()
    cases = [(first, "n-1"), (first, "n-1"), (second, "n-1"), (first, "n-2"), (second, "n-1")]
    raw_answers = [sql.insert_nonce(agent_id=a.pk, nonce=n, created=now) for a, n in cases]
    raw_rows = sorted(Nonce.objects.values_list("agent_id", "nonce"))
    with transaction.atomic():
        Nonce.objects.all().delete()
        orm_answers = [
            Nonce.objects.get_or_create(agent_id=a.pk, nonce=n, defaults={"created": now})[1]
            for a, n in cases
        ]
        orm_rows = sorted(Nonce.objects.values_list("agent_id", "nonce"))
    assert raw_answers == orm_answers == [True, False, True, True, False]
    assert raw_rows == orm_rows


def _report(agent: Agent, **fields) -> InventoryReport:
    at = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    body = b'{"format": "itsm-inventory/1"}'
    values = {
        "agent": agent,
        "received_at": at,
        "body": body,
        "sha256": hashlib.sha256(body).hexdigest(),
        "size": len(body),
        "format": "itsm-inventory/1",
        "collected_at": at,
        "summary": {"unchanged": True, "sections": ["all"]},
    }
    values.update(fields)
    return InventoryReport(**values)


def test_insert_report_matches_save():
    agent = make_agent().agent
    ci = CIFactory()
    columns = [f.attname for f in sql.REPORT_FIELDS]
    for fields in [{}, {"status": ReportStatus.PROCESSED, "ci": ci, "attempts": 1}]:
        raw = _report(agent, **fields)
        sql.insert_report(raw)
        assert raw.pk and not raw._state.adding
        orm = _report(agent, **fields)
        orm.save()  # received_at is auto_now_add: align it with the raw row's
        InventoryReport.objects.filter(pk=orm.pk).update(received_at=raw.received_at)
        stored = {
            r["id"]: r for r in InventoryReport.objects.filter(pk__in=[raw.pk, orm.pk]).values()
        }
        raw_row = {c: stored[raw.pk][c] for c in columns}
        orm_row = {c: stored[orm.pk][c] for c in columns}
        raw_row["body"], orm_row["body"] = bytes(raw_row["body"]), bytes(orm_row["body"])
        assert raw_row == orm_row


def _orm_unchanged_state_id(ci_id, digest, agent_id=None, max_attempts=10):
    states = InventoryState.objects.filter(
        ci_id=ci_id, content_digest=digest, ci_version=F("ci__version")
    ).exclude(ci__status=CIStatus.DISPOSED)
    if agent_id is not None:
        waiting = InventoryReport.objects.filter(
            agent_id=agent_id, status__in=WAITING, attempts__lt=max_attempts
        )
        states = states.filter(~Exists(waiting))
    return states.values_list("pk", flat=True).first()


def _raw_unchanged_state_id(ci_id, digest, agent_id=None, max_attempts=10):
    return sql.unchanged_state_id(
        ci_id=ci_id,
        digest=digest,
        excluded_status=CIStatus.DISPOSED,
        waiting_agent_id=agent_id,
        waiting_statuses=WAITING,
        max_attempts=max_attempts,
    )


def test_unchanged_state_id_matches_the_orm():
    agent = make_agent().agent
    ci = CIFactory(status=CIStatus.PRODUCTION)
    state = InventoryState.objects.create(ci=ci, content_digest="d1", ci_version=ci.version)
    other = CIFactory()
    InventoryState.objects.create(ci=other, content_digest="d1", ci_version=other.version + 1)

    def both(ci_id, digest, agent_id=None, max_attempts=10):
        raw = _raw_unchanged_state_id(ci_id, digest, agent_id, max_attempts)
        assert raw == _orm_unchanged_state_id(ci_id, digest, agent_id, max_attempts)
        return raw

    assert both(ci.pk, "d1") == state.pk
    assert both(ci.pk, "d1", agent.pk) == state.pk
    assert both(ci.pk, "other digest") is None
    assert both(other.pk, "d1") is None  # the CI moved since
    waiting = _report(agent, status=ReportStatus.FAILED, attempts=3)
    waiting.save()
    assert both(ci.pk, "d1", agent.pk) is None  # a report of the agent waits
    assert both(ci.pk, "d1", agent.pk, max_attempts=3) == state.pk  # … given up on
    assert both(ci.pk, "d1") == state.pk
    InventoryReport.objects.filter(pk=waiting.pk).update(status=ReportStatus.PROCESSED)
    assert both(ci.pk, "d1", agent.pk) == state.pk
    type(ci).objects.filter(pk=ci.pk).update(status=CIStatus.DISPOSED)
    assert both(ci.pk, "d1") is None


def test_unchanged_state_id_binds_its_values():
    """A status with a quote is a value, not SQL."""
    ci = CIFactory()
    InventoryState.objects.create(ci=ci, content_digest="d", ci_version=ci.version)
    assert sql.unchanged_state_id(ci_id=ci.pk, digest="d", excluded_status="x' OR '1'='1") == (
        InventoryState.objects.get(ci=ci).pk
    )
    assert "%s" in sql.UNCHANGED_STATE and "'" not in sql.UNCHANGED_STATE + sql.NOTHING_WAITING


@pytest.mark.django_db(transaction=True)
def test_lock_tokens_takes_one_advisory_lock_per_token():
    if connection.vendor != "postgresql":
        sql.lock_tokens(["uuid:a"])  # a no-op, but callable
        pytest.skip("advisory locks exist on PostgreSQL only")
    tokens = ["serial:ABC", "uuid:x", "host:web-01", "serial:ABC"]

    def held() -> set[int]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT (classid::bigint << 32) | objid::bigint FROM pg_locks "
                "WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
            )
            return {row[0] for row in cursor.fetchall()}

    with transaction.atomic():
        sql.lock_tokens(tokens)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT hashtextextended(t, 0) FROM unnest(%s::text[]) AS t", [sorted(set(tokens))]
            )
            expected = {row[0] & 0xFFFFFFFFFFFFFFFF for row in cursor.fetchall()}
        assert {h & 0xFFFFFFFFFFFFFFFF for h in held()} == expected
    assert held() == set()  # transaction-scoped
