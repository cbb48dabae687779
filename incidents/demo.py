"""Demo data of the service desk (a `cmdb.demo.extensions` step): filled in below."""

from __future__ import annotations


def seed_demo_step() -> list[tuple[str, int, int]]:
    """The `cmdb.demo.extensions` step: summary rows (label, created, total)."""
    from .models import Incident

    return [("incidents", 0, Incident.objects.count())]
