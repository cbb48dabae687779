"""CI history moves into the one audit log (itsm.AuditEntry); network and storage changes get
their own kinds, so the as-of view rebuilds only real fields.

Rows are copied with one INSERT … SELECT (no Python loop), keeping their ids' order; a CI's
entries keep `object_id` = the CI id even after it is deleted (no foreign key any more).
"""

from django.db import migrations, models

_COLUMNS = (
    "object_id, object_repr, kind, at, actor_id, actor_name, source, source_ref, changes, reason"
)
_OLD_COLUMNS = "ci_id, ci_name, kind, at, actor_id, actor_name, source, source_ref, changes, reason"


def _ci_content_type(apps):
    content_type = apps.get_model("contenttypes", "ContentType")
    return content_type.objects.get_or_create(app_label="cmdb", model="configurationitem")[0]


def copy_history(apps, schema_editor):
    history = apps.get_model("cmdb", "HistoryEntry")
    audit = apps.get_model("itsm", "AuditEntry")
    if not history.objects.exists():
        return
    ct = _ci_content_type(apps)
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {audit._meta.db_table} (content_type_id, request_id, {_COLUMNS}) "
            f"SELECT %s, '', {_OLD_COLUMNS} FROM {history._meta.db_table} ORDER BY id",
            [ct.pk],
        )
    entries = audit.objects.filter(content_type=ct, kind="updated")
    for section in ("network", "storage"):
        entries.filter(changes__has_key=section).update(kind=section)


def copy_back(apps, schema_editor):
    history = apps.get_model("cmdb", "HistoryEntry")
    audit = apps.get_model("itsm", "AuditEntry")
    ct = _ci_content_type(apps)
    entries = audit.objects.filter(content_type=ct)
    entries.filter(kind__in=["network", "storage"]).update(kind="updated")
    cis = apps.get_model("cmdb", "ConfigurationItem").objects.values("pk")
    entries.exclude(object_id__in=cis).update(object_id=None)  # their CI was deleted
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {history._meta.db_table} ({_OLD_COLUMNS}) "
            f"SELECT {_COLUMNS} FROM {audit._meta.db_table} WHERE content_type_id = %s "
            "ORDER BY id",
            [ct.pk],
        )
    entries.delete()


class Migration(migrations.Migration):
    dependencies = [
        ("cmdb", "0007_drop_redundant_fk_indexes"),
        ("itsm", "0002_audit_entries"),
    ]

    operations = [
        migrations.AlterField(
            model_name="installedsoftware",
            name="source",
            field=models.CharField(
                choices=[
                    ("user", "User (web UI)"),
                    ("api", "REST API"),
                    ("agent", "Agent report"),
                    ("release", "Release deployment"),
                    ("import", "CSV import"),
                    ("admin", "Django admin"),
                    ("system", "System"),
                ],
                default="user",
                max_length=20,
                verbose_name="source",
            ),
        ),
        migrations.AlterField(
            model_name="statuschange",
            name="source",
            field=models.CharField(
                choices=[
                    ("user", "User (web UI)"),
                    ("api", "REST API"),
                    ("agent", "Agent report"),
                    ("release", "Release deployment"),
                    ("import", "CSV import"),
                    ("admin", "Django admin"),
                    ("system", "System"),
                ],
                default="user",
                max_length=20,
                verbose_name="source",
            ),
        ),
        migrations.RunPython(copy_history, copy_back, elidable=True),
        migrations.DeleteModel(
            name="HistoryEntry",
        ),
        migrations.CreateModel(
            name="HistoryEntry",
            fields=[],
            options={
                "verbose_name": "CI history entry",
                "verbose_name_plural": "CI history entries",
                "ordering": ["-at", "-id"],
                "proxy": True,
                "indexes": [],
                "constraints": [],
            },
            bases=("itsm.auditentry",),
        ),
    ]
