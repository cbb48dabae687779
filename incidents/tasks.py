"""Celery tasks of the service desk: thin and idempotent."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="incidents.send_mail", ignore_result=True)
def send_incident_mail(kind: str, incident_id: int, extra: dict | None = None) -> int:
    """Send one incident e-mail (queued after commit by `notifications.notify`)."""
    from .notifications import send

    return send(kind, incident_id, extra)


@shared_task(name="incidents.run_escalations", ignore_result=True)
def run_escalations() -> dict:
    """Every minute: flag breached SLAs, then fire the escalation rules that are due (each
    once per incident and SLA cycle, however often or concurrently this runs)."""
    from cmdb.history import ChangeContext
    from itsm.choices import ChangeSource

    from .escalation_services import escalations_run
    from .sla_services import sla_mark_breaches

    context = ChangeContext(actor=None, source=ChangeSource.SYSTEM, source_ref="sla")
    breached = sla_mark_breaches(context=context)
    fired = escalations_run(context=context)
    return {"breached": breached, "escalations": fired}
