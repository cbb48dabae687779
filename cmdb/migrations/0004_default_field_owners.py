"""Default ownership of CI fields: discovery owns what a machine can tell about itself, people
own what only people know (name, owner, lifecycle, asset tag, environment)."""

from django.db import migrations

AGENT_FIELDS = [
    "hostname",
    "serial_number",
    "uuid",
    "attributes.os",
    "attributes.os_version",
    "attributes.kernel",
    "attributes.manufacturer",
    "attributes.model",
    "attributes.cpu_model",
    "attributes.cpu_cores",
    "attributes.memory_mb",
    "attributes.security",
    "software",
    "network",
    "storage",
]
PEOPLE_FIELDS = [
    "name",
    "description",
    "owner",
    "department",
    "site",
    "asset_tag",
    "managed",
    "attributes.environment",
]


def create(apps, schema_editor):
    field_owner = apps.get_model("cmdb", "FieldOwner")
    for field in AGENT_FIELDS:
        field_owner.objects.get_or_create(ci_type=None, field=field, defaults={"owner": "agent"})
    for field in PEOPLE_FIELDS:
        field_owner.objects.get_or_create(ci_type=None, field=field, defaults={"owner": "people"})


class Migration(migrations.Migration):
    dependencies = [("cmdb", "0003_inventory_records")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
