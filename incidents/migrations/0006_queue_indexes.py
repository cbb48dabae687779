"""Partial indexes of the help-desk queues: open incidents only, in the queue's order (SLA
breached first, then the nearest resolution due time), whole and per assignee and per group.
A queue page then reads its 25 rows and counts its open incidents from an index a few
thousand entries long, however many closed incidents the table holds.

Created in SQL (PostgreSQL and SQLite both support partial indexes) without touching the
model state: `Incident.Meta` belongs to the incidents core; the lead may move them there as
`models.Index(fields=[..., "-sla_breached", "resolve_due", "created", "id"],
condition=Q(status__in=OPEN_STATUSES))` and replace this migration with AddIndex operations.
"""

from django.db import migrations

OPEN = "('new', 'assigned', 'in_progress', 'on_hold', 'reopened')"
ORDER = "sla_breached DESC, resolve_due ASC, created ASC, id ASC"
INDEXES = {
    "incidents_open_queue": ORDER,
    "incidents_open_assignee": f"assignee_id, {ORDER}",
    "incidents_open_group": f"assignment_group_id, {ORDER}",
}


def create(apps, schema_editor):
    for name, columns in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON incidents_incident ({columns}) "
            f"WHERE status IN {OPEN}"
        )


def drop(apps, schema_editor):
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("incidents", "0005_saved_filters")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
