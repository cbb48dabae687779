"""What the agents app adds to other apps' pages, through `itsm.registry` (registered in
`AgentsConfig.ready()`): the CMDB cannot import agents, so agents hands it its panels."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from cmdb.models import ConfigurationItem
from itsm.registry import Panel, panels

from .selectors import ci_inventory_panel


def ci_discovery_panel(
    *, request: HttpRequest, obj: ConfigurationItem, context: dict[str, Any]
) -> Panel | None:
    """The CI page's "Discovery" card: latest report, bound agents, interfaces, storage, events,
    open discrepancies. Only for classes that carry an agent, and for users who may see agents.
    A fixed number of queries."""
    if not obj.ci_type.agent_capable or not request.user.has_perm("agents.view_agent"):
        return None
    return Panel("agents/_ci_discovery.html", {"discovery": ci_inventory_panel(obj)})


def register() -> None:
    """Fill the registries (called once from `AgentsConfig.ready()`)."""
    panels.register("cmdb.ci_detail", ci_discovery_panel, order=50)
