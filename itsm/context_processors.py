"""Template context shared by every page: the navigation entries the user may see."""

from __future__ import annotations

#: The menu: (label, url name, permission needed to see the entry). Higher apps append their
#: entries with `add_nav_entry` from their `AppConfig.ready()` (itsm never imports them).
NAV = [
    # (label, url name, permission needed to see the entry)
    ("Dashboard", "home", None),
    ("CIs", "cmdb:ci-list", "cmdb.view_configurationitem"),
    ("Relationships", "cmdb:relationship-list", "cmdb.view_relationship"),
    ("Import / export", "cmdb:import", "cmdb.import_ci"),
    ("Agents", "agents:agent-list", "agents.view_agent"),
    ("Discrepancies", "agents:discrepancy-list", "agents.view_discrepancy"),
    ("CMDB health", "agents:health", "cmdb.view_configurationitem"),
]


def add_nav_entry(label: str, url_name: str, permission: str | None, *, after: str | None = None):
    """Add a menu entry (once), after the entry labelled `after` or at the end."""
    entry = (label, url_name, permission)
    if entry in NAV:
        return
    labels = [e[0] for e in NAV]
    NAV.insert(labels.index(after) + 1 if after in labels else len(NAV), entry)


def navigation(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_entries": []}
    from django.urls import NoReverseMatch, reverse

    entries = []
    for label, name, perm in NAV:
        if perm and not user.has_perm(perm):
            continue
        try:
            entries.append(
                {"label": label, "url": reverse(name), "active": request.path == reverse(name)}
            )
        except NoReverseMatch:
            continue
    return {"nav_entries": entries}
