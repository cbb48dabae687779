"""Every write of the agents app: enrolment, approval, revocation, key rotation, the durable
inbox and its processing, discrepancy handling, and the rate-limited security log."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import logging
import secrets
from typing import Any

from cryptography.exceptions import InvalidSignature as CryptoInvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.conf import settings
from django.core.cache import cache
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from cmdb.choices import CIStatus
from cmdb.history import ChangeContext
from cmdb.models import ConfigurationItem
from cmdb.services import require_permission
from itsm.audit import record
from itsm.exceptions import ApplicationError, ConflictError

from .choices import (
    AGENT_TRANSITIONS,
    AgentStatus,
    DiscrepancyKind,
    DiscrepancyStatus,
    RejectionReason,
    ReportStatus,
)
from .discrepancies import open_or_refresh
from .models import (
    Agent,
    AgentGroup,
    Discrepancy,
    EnrollmentToken,
    InventoryReport,
    InventoryState,
    Nonce,
    SecurityEvent,
)
from .schema import SUPPORTED_FORMATS, content_digest, validate_report, validate_volatile_parts
from .signatures import SignedRequestRejected, VerifiedRequest, decode_public_key

logger = logging.getLogger("itsm.security")

SECURITY_LOG_BURST = (
    20  # entries per minute per (reason, address) before further ones are only counted
)
ROTATION_PROOF_PREFIX = "itsm-key-rotation:"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- security log -------------------------------------------------------------------------


def record_rejection(
    *,
    reason: str,
    status_code: int,
    path: str,
    remote_addr: str | None,
    key_id: str = "",
    detail: str = "",
) -> bool:
    """Log a refused agent request, at most SECURITY_LOG_BURST entries a minute per reason and address.

    Returns whether an entry was written. Written in its own transaction so a rolled-back
    request still leaves its trace.
    """
    bucket = f"agents:seclog:{reason}:{remote_addr}:{int(timezone.now().timestamp() // 60)}"
    try:
        count = cache.incr(bucket)
    except ValueError:
        cache.add(bucket, 0, timeout=120)
        count = cache.incr(bucket)
    logger.warning(
        "agent request refused: %s %s key=%s addr=%s (%s)",
        status_code,
        reason,
        key_id,
        remote_addr,
        detail,
    )
    if count > SECURITY_LOG_BURST:
        return False
    SecurityEvent.objects.create(
        reason=reason,
        status_code=status_code,
        path=path[:200],
        remote_addr=remote_addr,
        key_id=key_id[:64],
        detail=detail[:500],
    )
    return True


# --- enrolment ----------------------------------------------------------------------------


@transaction.atomic
def create_enrollment_token(
    *,
    context: ChangeContext,
    expires_in_hours: float = 24,
    auto_approve: bool = False,
    group: AgentGroup | None = None,
    note: str = "",
) -> tuple[str, EnrollmentToken]:
    """Create a one-time enrolment secret; returns the secret (shown once) and its record."""
    require_permission(context, "agents.enroll_agent")
    if not 0 < expires_in_hours <= 24 * 30:
        raise ApplicationError(
            "expires_in_hours must be between 0 and 720.",
            extra={"expires_in_hours": ["Out of range."]},
        )
    secret = "enr_" + secrets.token_urlsafe(32)
    token = EnrollmentToken.objects.create(
        token_hash=hash_token(secret),
        prefix=secret[:10],
        created_by=context.actor,
        expires=timezone.now() + dt.timedelta(hours=expires_in_hours),
        auto_approve=auto_approve,
        group=group,
        note=note,
    )
    return secret, token


@transaction.atomic
def enroll_agent(
    *, enrollment_token: str, name: str, public_key: str, remote_addr: str | None = None
) -> Agent:
    """Register an agent's public key with a one-time token; it lands pending or active per the token."""
    try:
        decode_public_key(public_key)
    except ValueError as exc:
        raise ApplicationError(str(exc), extra={"public_key": [str(exc)]}) from exc
    token = (
        EnrollmentToken.objects.select_for_update()
        .filter(
            token_hash=hash_token(enrollment_token or ""),
            used_at__isnull=True,
            expires__gt=timezone.now(),
        )
        .first()
    )
    if token is None:
        raise SignedRequestRejected(
            401, RejectionReason.ENROLLMENT, "The enrolment token is unknown, used or expired"
        )
    if Agent.objects.filter(public_key=public_key).exists():
        raise ConflictError("This public key is already enrolled.")
    token.used_at = timezone.now()
    token.save(update_fields=["used_at"])
    status = AgentStatus.ACTIVE if token.auto_approve else AgentStatus.PENDING
    agent = Agent.objects.create(
        key_id="agt_" + secrets.token_urlsafe(12),
        name=name[:255],
        public_key=public_key,
        status=status,
        group=token.group or default_group(),
        enrolled_from=remote_addr,
        approved_by=token.created_by if token.auto_approve else None,
        approved_at=timezone.now() if token.auto_approve else None,
    )
    return agent


def default_group() -> AgentGroup:
    group, _ = AgentGroup.objects.get_or_create(name="Default")
    return group


def _status_change(before: str, agent: Agent) -> dict[str, Any]:
    return {"status": {"old": before, "new": agent.status}}


def _move(agent: Agent, to_status: str) -> None:
    if to_status not in AGENT_TRANSITIONS[agent.status]:
        raise ApplicationError(f"An agent cannot move from {agent.status} to {to_status}.")
    agent.status = to_status


@transaction.atomic
def approve_agent(*, context: ChangeContext, agent_id: int) -> Agent:
    """Let a pending agent report."""
    require_permission(context, "agents.enroll_agent")
    agent = Agent.objects.select_for_update().get(pk=agent_id)
    _move(agent, AgentStatus.ACTIVE)
    agent.approved_by, agent.approved_at = context.actor, timezone.now()
    agent.save(update_fields=["status", "approved_by", "approved_at"])
    record(
        obj=agent,
        kind="approved",
        changes=_status_change(AgentStatus.PENDING, agent),
        context=context,
    )
    return agent


@transaction.atomic
def revoke_agent(*, context: ChangeContext, agent_id: int) -> Agent:
    """Revoke an agent's key for good; its requests are refused from now on."""
    require_permission(context, "agents.revoke_agent")
    agent = Agent.objects.select_for_update().get(pk=agent_id)
    before = agent.status
    _move(agent, AgentStatus.REVOKED)
    agent.revoked_by, agent.revoked_at = context.actor, timezone.now()
    agent.save(update_fields=["status", "revoked_by", "revoked_at"])
    record(obj=agent, kind="revoked", changes=_status_change(before, agent), context=context)
    return agent


@transaction.atomic
def update_agent(
    *, context: ChangeContext, agent_id: int, group: AgentGroup | None, is_collector: bool
) -> Agent:
    require_permission(context, "agents.change_agent")
    agent = Agent.objects.select_for_update().get(pk=agent_id)
    agent.group, agent.is_collector = group, is_collector
    agent.save(update_fields=["group", "is_collector"])
    return agent


def rotation_message(key_id: str, new_public_key: str) -> bytes:
    return f"{ROTATION_PROOF_PREFIX}{key_id}:{new_public_key}".encode()


@transaction.atomic
def rotate_key(*, verified: VerifiedRequest, new_public_key: str, proof: str) -> Agent:
    """Replace an agent's key: the request is signed with the old key and `proof` with the new one."""
    consume_nonce(verified)
    try:
        raw = decode_public_key(new_public_key)
        Ed25519PublicKey.from_public_bytes(raw).verify(
            base64.b64decode(proof, validate=True),
            rotation_message(verified.agent.key_id, new_public_key),
        )
    except (ValueError, TypeError, CryptoInvalidSignature) as exc:
        raise ApplicationError(
            "The proof does not verify with the new key.", extra={"proof": ["Invalid."]}
        ) from exc
    if Agent.objects.filter(public_key=new_public_key).exclude(pk=verified.agent.pk).exists():
        raise ConflictError("This public key is already enrolled.")
    agent = Agent.objects.select_for_update().get(pk=verified.agent.pk)
    old_key, agent.public_key = agent.public_key, new_public_key
    agent.key_rotated_at = agent.last_seen = timezone.now()
    agent.save(update_fields=["public_key", "key_rotated_at", "last_seen"])
    changes = {"public_key": {"old": old_key, "new": new_public_key}}
    context = ChangeContext(source="agent", source_ref=f"agent {agent.key_id}")
    record(obj=agent, kind="key_rotated", changes=changes, context=context)
    return agent


# --- the inbox ----------------------------------------------------------------------------


#: A report that failed this many times is left for a person (the sweep stops re-queuing it,
#: and it no longer holds back the short path of its agent's later reports).
MAX_ATTEMPTS = 10


def consume_nonce(verified: VerifiedRequest) -> None:
    """Remember the nonce; a second use within the window is a replay (401). Call in a transaction.

    One INSERT … ON CONFLICT DO NOTHING (PostgreSQL and SQLite): no savepoint round trips.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Nonce._meta.db_table} (agent_id, nonce, created) VALUES (%s, %s, %s) "
            "ON CONFLICT DO NOTHING",
            [verified.agent.pk, verified.nonce, timezone.now()],
        )
        inserted = cursor.rowcount
    if inserted != 1:
        raise SignedRequestRejected(
            401, RejectionReason.REPLAY, "This nonce was already used", verified.agent.key_id
        )


def touch_agent(agent: Agent, *, report: bool = False) -> None:
    """Record the agent's last contact without a read-modify-write of the whole row."""
    now = timezone.now()
    table = Agent._meta.db_table
    with connection.cursor() as cursor:  # raw: once per signed request
        if report:
            cursor.execute(
                f"UPDATE {table} SET last_seen = %s, last_report_at = %s WHERE id = %s",
                [now, now, agent.pk],
            )
        else:
            cursor.execute(f"UPDATE {table} SET last_seen = %s WHERE id = %s", [now, agent.pk])


@transaction.atomic
def accept_report(*, verified: VerifiedRequest, document: Any) -> InventoryReport:
    """Validate and store the raw report durably (with its nonce); queue its processing.

    A report that says exactly what the machine said last time, for a CI nobody changed since
    and with nothing of the agent's still in the queue, is settled here in the same transaction
    (stored as processed, the CI's last report moved): no task, no second transaction. Its
    content is then the content of a report that passed the schema, so only the keys outside
    the digest are validated. Raises ReportInvalid (nothing is written) for a bad report.
    """
    consume_nonce(verified)
    agent = verified.agent
    fmt = document.get("format") if isinstance(document, dict) else None
    state_id = None
    if fmt in SUPPORTED_FORMATS:
        state_id = _unchanged_state_id(agent, content_digest(document))
    if state_id:
        validate_volatile_parts(document, fmt)
    else:
        fmt = validate_report(document)
    collected_at = None
    if isinstance(document.get("collected_at"), str):
        collected_at = parse_datetime(document["collected_at"])
    now = timezone.now()
    report = InventoryReport(
        agent=agent,
        received_at=now,
        body=verified.body,
        sha256=hashlib.sha256(verified.body).hexdigest(),
        size=len(verified.body),
        format=fmt,
        collected_at=collected_at,
        **(_processed_unchanged_fields(agent.ci_id, now) if state_id else {}),
    )
    _insert_report(report)
    touch_agent(agent, report=True)
    if state_id:
        _move_last_report(state_id, report)
        return report
    from .tasks import process_report_task

    transaction.on_commit(lambda: _enqueue(process_report_task, report.pk))
    return report


_REPORT_FIELDS = [f for f in InventoryReport._meta.concrete_fields if not f.primary_key]
_INSERT_REPORT_SQL = (
    f"INSERT INTO {InventoryReport._meta.db_table} "
    f"({', '.join(f.column for f in _REPORT_FIELDS)}) "
    f"VALUES ({', '.join(['%s'] * len(_REPORT_FIELDS))}) RETURNING id"
)


def _insert_report(report: InventoryReport) -> None:
    """INSERT a new report (every field set by the caller) in one plain statement: the ORM's
    insert costs twice as long to build as PostgreSQL takes to run it, on every report."""
    values = [f.get_db_prep_save(getattr(report, f.attname), connection) for f in _REPORT_FIELDS]
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_REPORT_SQL, values)
        report.pk = cursor.fetchone()[0]
    report._state.adding = False
    report._state.db = connection.alias


def _unchanged_state_id(agent: Agent, digest: str, *, unless_waiting: bool = True) -> int | None:
    """The bound CI's inventory state when this content changes nothing, else None.

    One indexed query (raw: it runs for every report). Not when the key is a collector's, the
    CI was edited since the last report (its version moved) or is disposed (the full path
    raises the discrepancy), or, with `unless_waiting`, while a report of this agent waits in
    the queue: that one must be applied first, in order.
    """
    if not agent.ci_id or agent.is_collector:
        return None
    sql = _UNCHANGED_STATE_SQL + (_NOTHING_WAITING_SQL if unless_waiting else "")
    params = [agent.ci_id, digest] + ([agent.pk] if unless_waiting else [])
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return row[0] if row else None


_UNCHANGED_STATE_SQL = f"""
    SELECT s.id FROM {InventoryState._meta.db_table} s
    JOIN {ConfigurationItem._meta.db_table} c ON c.id = s.ci_id
    WHERE s.ci_id = %s AND s.content_digest = %s AND s.ci_version = c.version
      AND c.status <> '{CIStatus.DISPOSED}'
"""  # table names and enum values only: nothing from the request
_NOTHING_WAITING_SQL = f"""
      AND NOT EXISTS (
        SELECT 1 FROM {InventoryReport._meta.db_table} r
        WHERE r.agent_id = %s AND r.status IN ('{ReportStatus.RECEIVED}', '{ReportStatus.FAILED}')
          AND r.attempts < {MAX_ATTEMPTS}
      )
"""


def _move_last_report(state_id: int, report: InventoryReport) -> None:
    """Record `report` as the CI's latest, all an unchanged report changes (raw: hot path)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {InventoryState._meta.db_table} "
            "SET last_report_id = %s, last_report_at = %s WHERE id = %s",
            [report.pk, report.received_at, state_id],
        )


def _unchanged_summary(ci_id: int) -> dict[str, Any]:
    return {
        "ci_id": ci_id,
        "created": False,
        "matched_by": "bound key",
        "unchanged": True,
        "changed_sections": [],
        "unchanged_sections": ["all"],
        "discrepancies": [],
        "events": 0,
    }


def _processed_unchanged_fields(ci_id: int, now: dt.datetime) -> dict[str, Any]:
    return {
        "status": ReportStatus.PROCESSED,
        "processed_at": now,
        "attempts": 1,
        "ci_id": ci_id,
        "summary": _unchanged_summary(ci_id),
    }


def _enqueue(task, report_id: int) -> None:
    """Queue processing. The report is already stored: if the broker is down, or processing
    fails when tasks run eagerly, the answer stays 202 and the periodic sweep retries."""
    try:
        task.delay(report_id)
    except Exception:
        logger.exception(
            "report %s was stored but not processed now; the sweep will retry", report_id
        )


def sweep_inbox(*, older_than_seconds: int = 120, limit: int = 500) -> int:
    """Re-queue reports still waiting (a crashed worker, a lost message, a broker outage)."""
    from .tasks import process_report_task

    cutoff = timezone.now() - dt.timedelta(seconds=older_than_seconds)
    ids = list(
        InventoryReport.objects.filter(
            status__in=[ReportStatus.RECEIVED, ReportStatus.FAILED], received_at__lt=cutoff
        )
        .filter(attempts__lt=MAX_ATTEMPTS)
        .order_by("received_at")
        .values_list("pk", flat=True)[:limit]
    )
    for report_id in ids:
        _enqueue(process_report_task, report_id)
    return len(ids)


def purge_old_reports(*, days: int | None = None) -> int:
    """Delete applied reports older than the retention period (AGENT_REPORT_RETENTION_DAYS),
    keeping each CI's latest; what they changed stays in the CMDB history."""
    days = days if days is not None else settings.AGENT_REPORT_RETENTION_DAYS
    cutoff = timezone.now() - dt.timedelta(days=days)
    latest = InventoryState.objects.exclude(last_report__isnull=True).values("last_report_id")
    old = InventoryReport.objects.filter(
        received_at__lt=cutoff, status__in=[ReportStatus.PROCESSED, ReportStatus.REJECTED]
    ).exclude(pk__in=latest)
    deleted, _ = old.delete()
    return deleted


def purge_nonces() -> int:
    """Forget nonces older than twice the signature window: `created` checks refuse them anyway."""
    cutoff = timezone.now() - dt.timedelta(seconds=2 * settings.AGENT_SIGNATURE_WINDOW_SECONDS)
    deleted, _ = Nonce.objects.filter(created__lt=cutoff).delete()
    return deleted


# --- discrepancies ------------------------------------------------------------------------


@transaction.atomic
def close_discrepancy(
    *, context: ChangeContext, discrepancy_id: int, status: str, resolution: str = ""
) -> Discrepancy:
    """Resolve (fixed) or accept (expected) an open discrepancy."""
    require_permission(context, "agents.resolve_discrepancy")
    if status not in (DiscrepancyStatus.RESOLVED, DiscrepancyStatus.ACCEPTED):
        raise ApplicationError("A discrepancy is closed as resolved or accepted.")
    item = Discrepancy.objects.select_for_update().get(pk=discrepancy_id)
    if item.status != DiscrepancyStatus.OPEN:
        raise ApplicationError(f"This discrepancy is already {item.status}.")
    item.status, item.resolution = status, resolution
    item.resolved_by, item.resolved_at = context.actor, timezone.now()
    item.save(update_fields=["status", "resolution", "resolved_by", "resolved_at"])
    changes = {"status": {"old": DiscrepancyStatus.OPEN, "new": status}, "resolution": resolution}
    record(obj=item, kind="closed", changes=changes, context=context)
    return item


# --- processing ---------------------------------------------------------------------------


def process_report(*, report_id: int) -> InventoryReport | None:
    """Apply a stored report to the CMDB, once: a second run finds it processed and does nothing.

    The report row is locked (SKIP LOCKED: another worker already has it) and everything is
    applied in one transaction, so a worker killed half-way leaves the report for the sweep.
    A report whose content is what the machine last said (and whose CI nobody changed since)
    takes a short path of four statements. A report that can never apply (bad content, a key
    reporting another machine) is marked rejected with the reason; an unexpected error marks it
    failed for a retry.
    """
    from .inventory import InventoryFormatError, normalize_report
    from .reconcile import IdentityMismatch, reconcile

    try:
        with transaction.atomic():
            report = (
                InventoryReport.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("agent__group")
                .filter(pk=report_id, status__in=[ReportStatus.RECEIVED, ReportStatus.FAILED])
                .first()
            )
            if report is None:
                return None
            try:
                # The body passed the size, structure and schema checks when it was accepted.
                document = json.loads(bytes(report.body))
                digest = content_digest(document)
                if _apply_unchanged(report, digest):
                    return report
                normalized = normalize_report(document)
                outcome = reconcile(
                    report=report, normalized=normalized, agent=report.agent, digest=digest
                )
            except (InventoryFormatError, IdentityMismatch, ValueError) as exc:
                report.status, report.error = ReportStatus.REJECTED, str(exc)[:2000]
                report.attempts += 1
                report.processed_at = timezone.now()
                report.save(update_fields=["status", "error", "attempts", "processed_at"])
                if isinstance(exc, IdentityMismatch):
                    record_rejection(
                        reason=RejectionReason.IDENTITY,
                        status_code=202,
                        path="agents/reports/",
                        remote_addr=None,
                        key_id=report.agent.key_id,
                        detail=str(exc),
                    )
                return report
            _mark_processed(report, ci_id=outcome.ci_id, summary=outcome.as_dict())
            return report
    except Exception as exc:
        InventoryReport.objects.filter(pk=report_id, status=ReportStatus.RECEIVED).update(
            status=ReportStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        InventoryReport.objects.filter(pk=report_id).update(attempts=models.F("attempts") + 1)
        raise


def _mark_processed(report: InventoryReport, *, ci_id: int | None, summary: dict) -> None:
    report.status = ReportStatus.PROCESSED
    report.processed_at = timezone.now()
    report.attempts += 1
    report.ci_id = ci_id
    report.summary = summary
    report.error = ""
    report.save(update_fields=["status", "processed_at", "attempts", "ci", "summary", "error"])


def _apply_unchanged(report: InventoryReport, digest: str) -> bool:
    """The short path: a bound key reporting exactly what it reported last time, for a CI nobody
    changed since. Nothing in the CMDB is rewritten; only the report's time is recorded."""
    agent = report.agent
    state_id = _unchanged_state_id(agent, digest, unless_waiting=False)
    if state_id is None:
        return False
    _move_last_report(state_id, report)
    _mark_processed(report, ci_id=agent.ci_id, summary=_unchanged_summary(agent.ci_id))
    return True


def audit_stale_cis(*, now: dt.datetime | None = None) -> int:
    """Open a `stale` discrepancy for each managed CI whose agent missed N report intervals."""
    now = now or timezone.now()
    opened = 0
    agents = Agent.objects.filter(
        status=AgentStatus.ACTIVE, ci__isnull=False, ci__managed=True
    ).select_related("group", "ci")
    for agent in agents.iterator():
        group = agent.group or default_group()
        limit = dt.timedelta(seconds=group.interval_seconds * group.stale_after_missed)
        last = agent.last_report_at or agent.enrolled_at
        if now - last <= limit:
            continue
        _, created = open_or_refresh(
            ci=agent.ci,
            kind=DiscrepancyKind.STALE,
            key="",
            message=f"No report since {last:%Y-%m-%d %H:%M} ({group.stale_after_missed} intervals missed).",
            detail={"last_report": last.isoformat(), "agent": agent.key_id},
            raise_incident=group.raise_incidents,
        )
        if not created:
            continue
        # The next report must take the full path, which closes the stale discrepancy.
        InventoryState.objects.filter(ci=agent.ci).update(content_digest="")
        opened += 1
    return opened
