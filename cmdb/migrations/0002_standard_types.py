"""Standard CI classes and relationship types every installation starts with.

Attribute schemas are JSON Schema; `x-expected` lists attributes that are not enforced at
creation (an agent or an import may not know them yet) but count towards completeness in the
CMDB health view. Impact flows from a relationship's source to its target.
"""

from django.db import migrations

OS = {"type": "string", "maxLength": 200}
HARDWARE_PROPS = {
    "os": OS,
    "os_version": {"type": "string", "maxLength": 100},
    "kernel": {"type": "string", "maxLength": 200},
    "manufacturer": {"type": "string", "maxLength": 200},
    "model": {"type": "string", "maxLength": 200},
    "cpu_model": {"type": "string", "maxLength": 200},
    "cpu_cores": {"type": "integer", "minimum": 1},
    "memory_mb": {"type": "integer", "minimum": 0},
    "environment": {"enum": ["production", "staging", "test", "development"]},
}


def hardware_schema(expected, extra=None):
    return {
        "type": "object",
        "properties": {**HARDWARE_PROPS, **(extra or {})},
        "x-expected": expected,
    }


CI_TYPES = [
    ("Server", "server", True, hardware_schema(["os", "environment", "cpu_cores", "memory_mb"])),
    (
        "Virtual machine",
        "virtual-machine",
        True,
        hardware_schema(["os", "environment", "memory_mb"]),
    ),
    ("Desktop", "desktop", True, hardware_schema(["os", "model", "memory_mb"])),
    ("Laptop", "laptop", True, hardware_schema(["os", "model", "memory_mb"])),
    (
        "Network device",
        "network-device",
        True,
        {
            "type": "object",
            "properties": {
                "device_role": {
                    "enum": ["switch", "router", "firewall", "access_point", "load_balancer"]
                },
                "manufacturer": {"type": "string"},
                "model": {"type": "string"},
                "firmware": {"type": "string"},
                "ports": {"type": "integer", "minimum": 0},
            },
            "x-expected": ["device_role", "model", "firmware"],
        },
    ),
    (
        "Printer",
        "printer",
        True,
        {
            "type": "object",
            "properties": {
                "manufacturer": {"type": "string"},
                "model": {"type": "string"},
                "pages": {"type": "integer"},
            },
            "x-expected": ["model"],
        },
    ),
    (
        "Mobile phone",
        "phone",
        True,
        {
            "type": "object",
            "properties": {"os": OS, "os_version": {"type": "string"}, "model": {"type": "string"}},
            "x-expected": ["os", "model"],
        },
    ),
    (
        "Database",
        "database",
        False,
        {
            "type": "object",
            "properties": {
                "engine": {
                    "enum": [
                        "postgresql",
                        "mysql",
                        "mariadb",
                        "oracle",
                        "sqlserver",
                        "mongodb",
                        "redis",
                    ]
                },
                "engine_version": {"type": "string"},
                "size_gb": {"type": "number", "minimum": 0},
            },
            "required": ["engine"],
            "x-expected": ["engine", "engine_version"],
        },
    ),
    (
        "Application",
        "application",
        False,
        {
            "type": "object",
            "properties": {
                "vendor": {"type": "string"},
                "version": {"type": "string"},
                "url": {"type": "string", "format": "uri"},
            },
            "x-expected": ["vendor", "version"],
        },
    ),
    (
        "Business service",
        "business-service",
        False,
        {
            "type": "object",
            "properties": {
                "criticality": {"enum": ["low", "medium", "high", "critical"]},
                "sla_hours": {"type": "number", "minimum": 0},
            },
            "required": ["criticality"],
            "x-expected": ["criticality", "sla_hours"],
        },
    ),
]

RELATIONSHIP_TYPES = [
    ("Hosts", "hosts", "hosts", "is hosted on"),
    ("Connects", "connects", "connects", "is connected through"),
    ("Provides data", "provides", "provides data to", "uses data from"),
    ("Supports", "supports", "supports", "is supported by"),
    ("Required by", "required-by", "is required by", "depends on"),
]


def create(apps, schema_editor):
    ci_type = apps.get_model("cmdb", "CIType")
    rel_type = apps.get_model("cmdb", "RelationshipType")
    for name, slug, is_hardware, schema in CI_TYPES:
        ci_type.objects.get_or_create(
            slug=slug,
            defaults={"name": name, "is_hardware": is_hardware, "attribute_schema": schema},
        )
    for name, slug, forward, reverse in RELATIONSHIP_TYPES:
        rel_type.objects.get_or_create(
            slug=slug, defaults={"name": name, "forward_label": forward, "reverse_label": reverse}
        )


class Migration(migrations.Migration):
    dependencies = [("cmdb", "0001_initial")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
