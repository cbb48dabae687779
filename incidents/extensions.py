"""What the service desk adds to shared pages (registered in `IncidentsConfig.ready()`): the
dashboard card of queue counts and the menu entries."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from itsm.context_processors import add_nav_entry
from itsm.registry import Panel, dashboard_cards


def queue_card(*, request: HttpRequest, obj: Any, context: dict[str, Any]) -> Panel | None:
    """Open incidents in each of the user's queues, each a link; for service-desk staff."""
    if not request.user.has_perm("incidents.view_incident"):
        return None
    from .ui_selectors import QUEUES, queue_counts

    counts = queue_counts(request.user)
    return Panel(
        "incidents/_dashboard_queues.html",
        {
            "queue_counts": [(key, label, counts[key]) for key, label in QUEUES.items()],
            "breached": counts["breached"],
        },
    )


def register() -> None:
    """Fill the registries, the menu and the saved filters' admin page (once)."""
    from . import saved_filter_admin

    saved_filter_admin.register()
    dashboard_cards.register("home", queue_card, order=5)
    add_nav_entry("Incidents", "incidents:queue", "incidents.view_incident", after="Dashboard")
    add_nav_entry("New incident", "incidents:new", "incidents.add_incident", after="Incidents")
    add_nav_entry("Self-service", "portal:home", "incidents.report_incident")
