"""Demo RFCs for `manage.py seed_demo`: a few changes at each step of the workflow, made through
the services by the demo people (a service-desk lead raises them, the CAB votes, the change
manager schedules), and a year-end blackout. Idempotent: an RFC whose title exists is skipped.

Registered in `ChangesConfig.ready()` as a `cmdb.demo.extensions` step.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.utils import timezone

from cmdb.models import ConfigurationItem
from itsm.audit import ChangeContext
from itsm.choices import ChangeSource

from . import services
from .models import Blackout, Change, StandardChangeTemplate

REQUESTER = "amelia.hughes"
MANAGER = "daniel.fischer"
CAB = ("lukas.weber", "sophie.turner", "hannah.schmidt")
#: (title, CI types to touch, how far it goes, priority)
PLAN = (
    ("Upgrade the shop database to PostgreSQL 16", ("database",), "submitted", "routine"),
    ("Replace the core switch firmware", ("network-device",), "voted", "urgent"),
    ("Add two nodes to the VM cluster", ("server",), "scheduled", "routine"),
    ("Rotate the mail gateway certificates", ("server",), "reviewed", "routine"),
)


def _user(username: str):
    return get_user_model().objects.filter(username=username).first()


def _cis(type_keys: tuple[str, ...], count: int = 2) -> list[ConfigurationItem]:
    return list(
        ConfigurationItem.objects.filter(ci_type__builtin_key__in=type_keys).order_by("name")[
            :count
        ]
    )


def seed_changes() -> dict[str, int]:
    """Create what is missing; answers what was created."""
    created = {"changes": 0, "blackouts": 0}
    requester, manager = _user(REQUESTER), _user(MANAGER)
    cab = [u for u in (_user(name) for name in CAB) if u is not None]
    if requester is None or manager is None or len(cab) < 2:
        return created
    now = timezone.now().replace(minute=0, second=0, microsecond=0)

    def context(user) -> ChangeContext:
        return ChangeContext(actor=user, source=ChangeSource.SYSTEM, source_ref="seed_demo")

    for i, (title, types, stage, priority) in enumerate(PLAN):
        if Change.objects.filter(title=title).exists():
            continue
        cis = _cis(types)
        if not cis:
            continue
        start = now + dt.timedelta(days=7 + i)
        change = services.change_create(
            context=context(requester),
            title=title,
            cis=cis,
            description=f"Demo RFC: {title.lower()}.",
            implementation_plan="1. Announce. 2. Apply in the window. 3. Verify the monitoring.",
            backout_plan="Restore the previous version from the snapshot taken before.",
            priority=priority,
            estimated_hours=2,
            planned_start=start,
            planned_end=start + dt.timedelta(hours=2),
        )
        services.change_submit(context=context(requester), change=change)
        if stage in ("voted", "scheduled", "reviewed"):
            services.change_vote(
                context=context(cab[0]), change=change, decision="approve", comment="Looks safe."
            )
        if stage in ("scheduled", "reviewed"):
            services.change_vote(context=context(cab[1]), change=change, decision="approve")
            services.change_schedule(
                context=context(manager),
                change=change,
                start=start,
                end=start + dt.timedelta(hours=2),
            )
        if stage == "reviewed":
            services.change_implement(context=context(manager), change=change)
            services.change_review(context=context(manager), change=change, outcome="successful")
        created["changes"] += 1
    template = StandardChangeTemplate.objects.filter(active=True).order_by("name").first()
    title = "Install approved desktop software for the finance team"
    desktops = _cis(("desktop",), 3)
    if template and desktops and not Change.objects.filter(title=title).exists():
        change = services.change_create(
            context=context(requester),
            title=title,
            cis=desktops,
            change_type="standard",
            template=template,
        )
        services.change_submit(context=context(requester), change=change)
        created["changes"] += 1
    year_end = dt.datetime(now.year, 12, 22, tzinfo=dt.UTC)
    if not Blackout.objects.filter(name="Year-end freeze").exists():
        services.blackout_create(
            context=context(manager),
            data={
                "name": "Year-end freeze",
                "start": year_end,
                "end": year_end + dt.timedelta(days=12),
                "reason": "Financial year-end closing: no changes.",
            },
        )
        created["blackouts"] += 1
    return created


def seed_demo_step() -> list[tuple[str, int, int]]:
    """The `cmdb.demo.extensions` step: summary rows (label, created, total)."""
    created = seed_changes()
    return [
        ("RFCs", created["changes"], Change.objects.count()),
        ("blackouts", created["blackouts"], Blackout.objects.count()),
    ]
