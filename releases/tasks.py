"""Celery tasks of the deployment engine: thin, idempotent, state in the database.

`run_step` carries (step id, attempt): a redelivered or stale message claims nothing. Its time
limits stay below the step lease (RELEASES_LEASE_SECONDS) and the broker's visibility timeout,
so a step is never redelivered while still running."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

LEASE = int(getattr(settings, "RELEASES_LEASE_SECONDS", 300))


@shared_task(
    name="releases.run_step",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=max(1, int(LEASE * 0.8)),
    time_limit=max(2, int(LEASE * 0.9)),
)
def run_step_task(step_id: int, attempt: int) -> str:
    from .engine.steps import step_run

    return step_run(step_id=step_id, attempt=attempt)


@shared_task(name="releases.advance", acks_late=True, reject_on_worker_lost=True)
def advance_task(deployment_id: int) -> dict:
    from .engine.advance import advance

    return advance(deployment_id)


@shared_task(name="releases.reconcile")
def reconcile_task() -> int:
    from .engine.advance import reconcile

    return reconcile()
