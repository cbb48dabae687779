"""The incident number sequence (continuing after existing INC- numbers), default business
calendars, an SLA policy for every priority, and the quick-log templates."""

import datetime as dt

from django.conf import settings
from django.db import migrations

from itsm.numbering import create_sequence

LAST_NUMBER_SQL = (
    "SELECT COALESCE(MAX(CAST(SUBSTR(number, 5) AS INTEGER)), 0) FROM incidents_incident "
    "WHERE number LIKE 'INC-%%'"
)

#: priority: (calendar, response minutes, resolution minutes) — business minutes.
DEFAULT_POLICIES = {
    1: ("24x7", 15, 240),
    2: ("Office hours", 30, 480),
    3: ("Office hours", 120, 1200),
    4: ("Office hours", 240, 3000),
    5: ("Office hours", 480, 6000),
}

QUICK_LOG = [
    {
        "name": "Password reset",
        "title": "Password reset",
        "category": "Account",
        "cause": "user_error",
        "resolution_method": "other",
        "resolution": "Identity checked, password reset, user signed in with the new password.",
        "position": 1,
    },
    {
        "name": "Printer jam",
        "title": "Printer jam",
        "category": "Printing",
        "cause": "other",
        "resolution_method": "fix",
        "resolution": "Paper jam cleared, test page printed.",
        "position": 2,
    },
]


def seed_defaults(apps, schema_editor):
    calendar_model = apps.get_model("incidents", "BusinessCalendar")
    hours_model = apps.get_model("incidents", "WorkingHours")
    policy_model = apps.get_model("incidents", "SlaPolicy")
    template_model = apps.get_model("incidents", "QuickLogTemplate")
    zone = getattr(settings, "TIME_ZONE", "UTC") or "UTC"
    always, created = calendar_model.objects.get_or_create(
        name="24x7", defaults={"time_zone": zone}
    )
    if created:
        for day in range(7):
            hours_model.objects.create(
                calendar=always, weekday=day, start=dt.time(0, 0), end=dt.time(0, 0)
            )
    office, created = calendar_model.objects.get_or_create(
        name="Office hours", defaults={"time_zone": zone}
    )
    if created:
        for day in range(5):
            hours_model.objects.create(
                calendar=office, weekday=day, start=dt.time(8, 0), end=dt.time(18, 0)
            )
    calendars = {"24x7": always, "Office hours": office}
    for priority, (calendar, response, resolution) in DEFAULT_POLICIES.items():
        if not policy_model.objects.filter(
            priority=priority, ci_type__isnull=True, department__isnull=True
        ).exists():
            policy_model.objects.create(
                name=f"P{priority} default",
                priority=priority,
                calendar=calendars[calendar],
                response_minutes=response,
                resolution_minutes=resolution,
            )
    for row in QUICK_LOG:
        template_model.objects.get_or_create(name=row["name"], defaults=row)


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0002_service_desk"),
        ("itsm", "0005_number_counter"),
    ]

    operations = [
        create_sequence("incidents_incident_number", start_after_sql=LAST_NUMBER_SQL),
        migrations.RunPython(seed_defaults, migrations.RunPython.noop),
    ]
