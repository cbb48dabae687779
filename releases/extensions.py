"""What releases adds to lower apps' pages through `itsm.registry` (registered in
`ReleasesConfig.ready()`): the CI page's "Deployments" panel."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from itsm.registry import Panel, panels

from .models import DeploymentTarget

PANEL_ROWS = 10


def ci_deployments_panel(
    *, request: HttpRequest, obj: Any, context: dict[str, Any]
) -> Panel | None:
    """The deployments that touched the CI, newest first (one query), for users who may see
    releases; nothing when the CI was never a target."""
    if obj is None or not request.user.has_perm("releases.view_release"):
        return None
    rows = list(
        DeploymentTarget.objects.filter(ci_id=obj.pk)
        .select_related("deployment__release", "wave")
        .order_by("-deployment__created", "-id")[:PANEL_ROWS]
    )
    if not rows:
        return None
    return Panel("releases/_ci_deployments.html", {"deployment_targets": rows})


def register() -> None:
    """Fill the registries (called once from `ReleasesConfig.ready()`)."""
    panels.register("cmdb.ci_detail", ci_deployments_panel, order=60)
