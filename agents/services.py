"""Writes of the agents app: the durable inbox and its processing, discrepancy handling, and
the rate-limited security log. Enrolment and keys live in `enrolment`, key binding in
`binding`; their services stay importable from here."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import models, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from cmdb.choices import CIStatus
from cmdb.history import ChangeContext
from cmdb.services import require_permission
from itsm.audit import record
from itsm.exceptions import ApplicationError

from . import discrepancies, sql
from .choices import (
    REPORT_TRANSITIONS,
    AgentStatus,
    DiscrepancyKind,
    DiscrepancyStatus,
    RejectionReason,
    ReportStatus,
)
from .discrepancies import discrepancy_open_or_refresh
from .enrolment import (  # noqa: F401  (re-exported: the public names stay importable here)
    ROTATION_PROOF_PREFIX,
    agent_approve,
    agent_enroll,
    agent_revoke,
    agent_rotate_key,
    agent_update,
    default_group,
    enrollment_token_create,
    hash_token,
    rotation_message,
)
from .models import (
    Agent,
    Discrepancy,
    InventoryReport,
    InventoryState,
    Nonce,
    SecurityEvent,
)
from .schema import SUPPORTED_FORMATS, content_digest, validate_report, validate_volatile_parts
from .signatures import SignedRequestRejected, VerifiedRequest

logger = logging.getLogger("itsm.security")

SECURITY_LOG_BURST = (
    20  # entries per minute per (reason, address) before further ones are only counted
)
# --- security log -------------------------------------------------------------------------


def rejection_record(
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


# --- the inbox ----------------------------------------------------------------------------


#: A report that failed this many times is left for a person (the sweep stops re-queuing it,
#: and it no longer holds back the short path of its agent's later reports).
MAX_ATTEMPTS = 10


def nonce_consume(verified: VerifiedRequest) -> None:
    """Remember the nonce; a second use within the window is a replay (401). Call in a transaction.

    One INSERT … ON CONFLICT DO NOTHING (`agents.sql.insert_nonce`): no savepoint round trips.
    """
    if not sql.insert_nonce(
        agent_id=verified.agent.pk, nonce=verified.nonce, created=timezone.now()
    ):
        raise SignedRequestRejected(
            401, RejectionReason.REPLAY, "This nonce was already used", verified.agent.key_id
        )


def agent_touch(agent: Agent, *, report: bool = False) -> None:
    """Record the agent's last contact: one UPDATE of those columns, no read of the row."""
    now = timezone.now()
    fields = {"last_seen": now, "last_report_at": now} if report else {"last_seen": now}
    Agent.objects.filter(pk=agent.pk).update(**fields)


@transaction.atomic
def report_accept(*, verified: VerifiedRequest, document: Any) -> InventoryReport:
    """Validate and store the raw report durably (with its nonce); queue its processing.

    A report that says exactly what the machine said last time, for a CI nobody changed since
    and with nothing of the agent's still in the queue, is settled here in the same transaction
    (stored as processed, the CI's last report moved): no task, no second transaction. Its
    content is then the content of a report that passed the schema, so only the keys outside
    the digest are validated. Raises ReportInvalid (nothing is written) for a bad report.
    """
    nonce_consume(verified)
    agent = verified.agent
    fmt = document.get("format") if isinstance(document, dict) else None
    state_id = None
    if isinstance(fmt, str) and fmt in SUPPORTED_FORMATS:
        state_id = _unchanged_state_id(agent, content_digest(document))
    now = timezone.now()
    settled: dict[str, Any] = {}
    if state_id:
        ci_id = agent.ci_id
        # Only a bound key has an unchanged state (`_unchanged_state_id`), for a known format.
        assert isinstance(fmt, str) and ci_id is not None
        validate_volatile_parts(document, fmt)
        settled = _processed_unchanged_fields(ci_id, now)
    else:
        fmt = validate_report(document)
    collected_at = None
    if isinstance(document.get("collected_at"), str):
        collected_at = parse_datetime(document["collected_at"])
    report = InventoryReport(
        agent=agent,
        received_at=now,
        body=verified.body,
        sha256=hashlib.sha256(verified.body).hexdigest(),
        size=len(verified.body),
        format=fmt,
        collected_at=collected_at,
        **settled,
    )
    _insert_report(report)
    agent_touch(agent, report=True)
    if state_id:
        _move_last_report(state_id, report)
        return report
    from .tasks import process_report_task

    transaction.on_commit(lambda: _enqueue(process_report_task, report.pk))
    return report


def _insert_report(report: InventoryReport) -> None:
    """INSERT a new report in one plain statement (`agents.sql.insert_report`: the ORM's
    insert costs twice as long to build as PostgreSQL takes to run it, on every report)."""
    sql.insert_report(report)


def _unchanged_state_id(agent: Agent, digest: str, *, unless_waiting: bool = True) -> int | None:
    """The bound CI's inventory state when this content changes nothing, else None.

    One indexed query (`agents.sql.unchanged_state_id`: it runs for every report). Not when
    the key is a collector's, the CI was edited since the last report (its version moved) or
    is disposed (the full path raises the discrepancy), or, with `unless_waiting`, while a
    report of this agent waits in the queue: that one must be applied first, in order.
    """
    if not agent.ci_id or agent.is_collector:
        return None
    return sql.unchanged_state_id(
        ci_id=agent.ci_id,
        digest=digest,
        excluded_status=CIStatus.DISPOSED,
        waiting_agent_id=agent.pk if unless_waiting else None,
        waiting_statuses=(ReportStatus.RECEIVED, ReportStatus.FAILED),
        max_attempts=MAX_ATTEMPTS,
    )


def _move_last_report(state_id: int, report: InventoryReport) -> None:
    """Record `report` as the CI's latest, all an unchanged report changes (one UPDATE)."""
    InventoryState.objects.filter(pk=state_id).update(
        last_report=report, last_report_at=report.received_at
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


def inbox_sweep(*, older_than_seconds: int = 120, limit: int = 500) -> int:
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


def report_purge_old(*, days: int | None = None) -> int:
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


def nonce_purge() -> int:
    """Forget nonces older than twice the signature window: `created` checks refuse them anyway."""
    cutoff = timezone.now() - dt.timedelta(seconds=2 * settings.AGENT_SIGNATURE_WINDOW_SECONDS)
    deleted, _ = Nonce.objects.filter(created__lt=cutoff).delete()
    return deleted


# --- discrepancies ------------------------------------------------------------------------


@transaction.atomic
def discrepancy_close(
    *, context: ChangeContext, discrepancy_id: int, status: str, resolution: str = ""
) -> Discrepancy:
    """Resolve (fixed) or accept (expected) an open discrepancy."""
    require_permission(context, "agents.resolve_discrepancy")
    if status not in (DiscrepancyStatus.RESOLVED, DiscrepancyStatus.ACCEPTED):
        raise ApplicationError("A discrepancy is closed as resolved or accepted.")
    item = Discrepancy.objects.select_for_update().get(pk=discrepancy_id)
    if item.status != DiscrepancyStatus.OPEN:
        raise ApplicationError(f"This discrepancy is already {item.status}.")
    if item.kind == DiscrepancyKind.IDENTITY_HOLD:
        raise ApplicationError(
            "A held report is settled by approving or refusing the binding, not by closing it."
        )
    discrepancies.discrepancy_move(item, status, actor=context.actor, resolution=resolution)
    changes = {"status": {"old": DiscrepancyStatus.OPEN, "new": status}, "resolution": resolution}
    record(obj=item, kind="closed", changes=changes, context=context)
    return item


# --- processing ---------------------------------------------------------------------------


def report_process(*, report_id: int) -> InventoryReport | None:
    """Apply a stored report to the CMDB, once: a second run finds it processed and does nothing.

    The report row is locked (SKIP LOCKED: another worker already has it) and everything is
    applied in one transaction, so a worker killed half-way leaves the report for the sweep.
    A report whose content is what the machine last said (and whose CI nobody changed since)
    takes a short path of four statements. A report whose key may not update the CI it
    describes is held for a CMDB Manager (`binding`); one that can never apply (bad content, a
    plain key reporting a network device) is marked rejected with the reason; an unexpected
    error marks it failed for a retry.
    """
    from .binding import report_hold
    from .inventory import InventoryFormatError, normalize_report
    from .reconcile import IdentityMismatch, ReportHeld, reconcile

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
            except ReportHeld as held:
                report_hold(report=report, hold=held.hold)
                return report
            except (InventoryFormatError, IdentityMismatch, ValueError) as exc:
                report_mark_rejected(report, str(exc))
                if isinstance(exc, IdentityMismatch):
                    rejection_record(
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
        # received → failed, failed → failed (a retry that failed again): allowed moves only.
        InventoryReport.objects.filter(
            pk=report_id, status__in=[ReportStatus.RECEIVED, ReportStatus.FAILED]
        ).update(
            status=ReportStatus.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            attempts=models.F("attempts") + 1,
        )
        raise


def check_report_move(from_status: str, to_status: str) -> None:
    """Refuse a move of a report that REPORT_TRANSITIONS does not allow."""
    if to_status not in REPORT_TRANSITIONS.get(from_status, frozenset()):
        raise ApplicationError(f"A report cannot move from {from_status} to {to_status}.")


def _mark_processed(report: InventoryReport, *, ci_id: int | None, summary: dict) -> None:
    """received/failed/held → processed: the report was applied to the CMDB."""
    check_report_move(report.status, ReportStatus.PROCESSED)
    report.status = ReportStatus.PROCESSED
    report.processed_at = timezone.now()
    report.attempts += 1
    report.ci_id = ci_id
    report.summary = summary
    report.error = ""
    report.save(update_fields=["status", "processed_at", "attempts", "ci", "summary", "error"])


report_mark_processed = _mark_processed


def report_mark_rejected(report: InventoryReport, error: str) -> None:
    """received/failed/held → rejected: the report can never apply (bad content, refused)."""
    check_report_move(report.status, ReportStatus.REJECTED)
    report.status, report.error = ReportStatus.REJECTED, error[:2000]
    report.attempts += 1
    report.processed_at = timezone.now()
    report.save(update_fields=["status", "error", "attempts", "processed_at"])


def _apply_unchanged(report: InventoryReport, digest: str) -> bool:
    """The short path: a bound key reporting exactly what it reported last time, for a CI nobody
    changed since. Nothing in the CMDB is rewritten; only the report's time is recorded."""
    agent = report.agent
    state_id = _unchanged_state_id(agent, digest, unless_waiting=False)
    if state_id is None:
        return False
    ci_id = agent.ci_id
    assert ci_id is not None  # only a bound key has an unchanged state
    _move_last_report(state_id, report)
    _mark_processed(report, ci_id=ci_id, summary=_unchanged_summary(ci_id))
    return True


def stale_ci_audit(*, now: dt.datetime | None = None) -> int:
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
        assert agent.ci is not None  # the query keeps bound agents only
        _, created = discrepancy_open_or_refresh(
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
