"""Celery tasks of change management: thin, idempotent enough (an e-mail resent on a retry)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="changes.notify")
def change_notify(change_id: int, event: str) -> int:
    """E-mail whoever must act next on an RFC after `event`."""
    from .notifications import send

    return send(change_id, event)
