"""Demo data of the service desk, a `cmdb.demo.extensions` step (registered in
`IncidentsConfig.ready()`): an end user who owns devices, escalation rules, and a handful of
incidents in every status, logged and moved through the services. Idempotent: a second run
creates nothing.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from cmdb.demo import catalogue as cat
from cmdb.history import ChangeContext
from itsm.roles import END_USER, SERVICE_DESK

from . import services
from .models import EscalationRule, Incident, QuickLogTemplate

DEMO = ChangeContext(source="system", source_ref="demo")

#: (title, category, cause, impact, urgency, severity, what happens to it)
INCIDENTS = [
    ("Laptop does not wake from sleep", "Hardware", "", "low", "medium", "minor", "new"),
    ("Outlook keeps asking for the password", "Mail", "", "medium", "medium", "moderate", "assigned"),
    ("VPN drops every few minutes", "Network", "", "medium", "high", "moderate", "in_progress"),
    ("Docking station shows no second screen", "Hardware", "", "low", "low", "minor", "on_hold"),
    ("Shared drive is read-only", "Storage", "configuration", "medium", "medium", "moderate", "resolved"),
    ("Browser plug-in crashes on start", "Software", "unknown_bug", "high", "medium", "severe", "closed"),
]  # fmt: skip


def _end_user():
    """The demo's end user: the first ordinary member of staff who owns a computer."""
    user_model = get_user_model()
    group = Group.objects.filter(name=END_USER).first()
    if group is None:
        return None, False
    existing = group.user_set.filter(email__endswith=f"@{cat.EMAIL_DOMAIN}").first()
    if existing is not None:
        return existing, False
    user = (
        user_model.objects.filter(
            email__endswith=f"@{cat.EMAIL_DOMAIN}",
            groups__isnull=True,
            is_superuser=False,
            owned_cis__ci_type__slug__in=["desktop", "laptop"],
        )
        .order_by("username")
        .first()
    )
    if user is None:
        return None, False
    user.groups.add(group)
    return user, True


def _rules(desk_lead) -> int:
    created = 0
    desk = Group.objects.filter(name=SERVICE_DESK).first()
    for name, values in (
        (
            "Three quarters of the resolution time",
            {"target": "resolution", "threshold_percent": 75, "notify_group": None},
        ),
        (
            "Resolution breached: to the desk lead, one priority up",
            {
                "target": "resolution",
                "threshold_percent": 100,
                "reassign_to": desk_lead,
                "raise_priority": True,
                "notify_group": desk,
            },
        ),
    ):
        _, made = EscalationRule.objects.get_or_create(name=name, defaults=values)
        created += made
    return created


def seed_incidents() -> dict[str, int]:
    """Create what is missing of the demo's service-desk data; counts of what was created."""
    created = {"end users": 0, "escalation rules": 0, "incidents": 0}
    user_model = get_user_model()
    analyst = user_model.objects.filter(username="oliver.bennett").first()
    lead = user_model.objects.filter(username=cat.DESK_LEAD).first()
    end_user, made = _end_user()
    created["end users"] += made
    created["escalation rules"] += _rules(lead)
    if end_user is None or analyst is None:
        return created
    devices = list(end_user.owned_cis.order_by("name")[:1])
    have = set(Incident.objects.filter(caller=end_user).values_list("title", flat=True))
    for title, category, cause, impact, urgency, severity, state in INCIDENTS:
        if title in have:
            continue
        incident = services.incident_open(
            context=DEMO,
            title=title,
            description=f"{end_user.get_full_name()} reports: {title.lower()}.",
            category=category,
            cause=cause,
            impact=impact,
            urgency=urgency,
            severity=severity,
            caller=end_user,
            cis=devices,
        )
        created["incidents"] += 1
        _move(incident, state, analyst)
    template = QuickLogTemplate.objects.filter(name="Password reset").first()
    if (
        template is not None
        and not Incident.objects.filter(caller=end_user, source="quick_log").exists()
    ):
        services.incident_quick_log(context=DEMO, template=template, caller=end_user)
        created["incidents"] += 1
    return created


def _move(incident: Incident, state: str, analyst) -> None:
    if state == "new":
        return
    incident = services.incident_assign(context=DEMO, incident=incident, assignee=analyst)
    if state == "assigned":
        return
    if state == "on_hold":
        services.worklog_add(
            context=DEMO, incident=incident, note="Asked the caller for the model.", public=True
        )
        services.incident_hold(context=DEMO, incident=incident, reason="Waiting for the caller")
        return
    incident = services.incident_start(context=DEMO, incident=incident)
    services.worklog_add(context=DEMO, incident=incident, note="Looked into it.", minutes=20)
    if state == "in_progress":
        return
    incident = services.incident_resolve(
        context=DEMO,
        incident=incident,
        resolution_method="configuration_change" if incident.cause else "fix",
        resolution="Corrected the setting; works again.",
    )
    if state == "closed":
        services.incident_close(context=DEMO, incident=incident)


def seed_demo_step() -> list[tuple[str, int, int]]:
    """The `cmdb.demo.extensions` step: summary rows (label, created, total)."""
    created = seed_incidents()
    end_users = Group.objects.filter(name=END_USER).first()
    return [
        ("end users", created["end users"], end_users.user_set.count() if end_users else 0),
        ("escalation rules", created["escalation rules"], EscalationRule.objects.count()),
        ("incidents", created["incidents"], Incident.objects.count()),
    ]
