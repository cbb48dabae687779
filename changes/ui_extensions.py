"""What change management adds to shared pages through `itsm.registry` and the menu
(registered in `ChangesConfig.ready()`): the home page's card and the menu entries."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from itsm.context_processors import add_nav_entry
from itsm.registry import Panel, dashboard_cards


def changes_card(*, request: HttpRequest, obj: Any, context: dict[str, Any]) -> Panel | None:
    """RFCs awaiting my vote, submitted, scheduled this week, my open RFCs."""
    user = request.user
    if not user.has_perm("changes.view_change"):
        return None
    from .choices import OPEN_STATUSES, ChangeStatus
    from .models import Change
    from .selectors import cab_pending_for, calendar_changes

    today = timezone.localdate()
    monday = today - dt.timedelta(days=today.weekday())
    start = dt.datetime.combine(monday, dt.time.min, tzinfo=timezone.get_current_timezone())
    waiting = cab_pending_for(user).count()
    return Panel(
        "changes/_dashboard_card.html",
        {
            "waiting_vote": waiting if waiting or user.has_perm("changes.vote_change") else None,
            "submitted": Change.objects.filter(status=ChangeStatus.SUBMITTED).count(),
            "this_week": calendar_changes(start, start + dt.timedelta(days=7)).count(),
            "mine": Change.objects.filter(originator=user, status__in=OPEN_STATUSES).count()
            if user.has_perm("changes.add_change")
            else None,
        },
    )


def register() -> None:
    """Fill the registries and the menu (called once from `ChangesConfig.ready()`)."""
    dashboard_cards.register("home", changes_card, order=30)
    add_nav_entry("Changes", "changes:change-list", "changes.view_change")
    add_nav_entry("CAB", "changes:cab", "changes.view_change", after="Changes")
    add_nav_entry("Change calendar", "changes:calendar", "changes.view_change", after="CAB")
