"""What the CMDB adds to shared pages through `itsm.registry` (registered in
`CmdbConfig.ready()`): the dashboard's card of CIs per class."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from itsm.registry import Panel, dashboard_cards

from .selectors import ci_type_counts


def ci_type_counts_card(*, request: HttpRequest, obj: Any, context: dict[str, Any]) -> Panel | None:
    """CIs per class, each a link to the filtered CI list; for users who may see CIs."""
    if not request.user.has_perm("cmdb.view_configurationitem"):
        return None
    return Panel("cmdb/_dashboard_types.html", {"type_counts": ci_type_counts()})


def register() -> None:
    """Fill the registries (called once from `CmdbConfig.ready()`)."""
    dashboard_cards.register("home", ci_type_counts_card, order=10)
