"""Celery tasks of the agents app: thin, idempotent wrappers around services."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="agents.process_report", acks_late=True, reject_on_worker_lost=True)
def process_report_task(report_id: int) -> str:
    """Apply one stored report; running it twice changes nothing the second time."""
    report = services.report_process(report_id=report_id)
    return report.status if report else "skipped"


@shared_task(name="agents.sweep_inbox")
def sweep_inbox_task() -> int:
    """Re-queue reports that were stored but not processed (crash, lost message)."""
    return services.inbox_sweep()


@shared_task(name="agents.audit_stale")
def audit_stale_task() -> int:
    return services.stale_ci_audit()


@shared_task(name="agents.purge_nonces")
def purge_nonces_task() -> int:
    return services.nonce_purge()


@shared_task(name="agents.purge_old_reports")
def purge_old_reports_task() -> int:
    return services.report_purge_old()
