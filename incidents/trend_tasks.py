"""Celery task of trend analysis (registered from IncidentsConfig.ready; beat runs it, see
itsm/celery.py). Thin and idempotent: a second run recomputes the same days."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="incidents.refresh_trends")
def refresh_trends() -> int:
    """Recompute the incident summary rows of the days touched since the last run."""
    from .trends import refresh

    return refresh()
