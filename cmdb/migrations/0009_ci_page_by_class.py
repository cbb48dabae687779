"""The CI page fits the class: which built-in classes carry an agent, which open impact upstream."""

from django.db import migrations, models

#: Built-in classes whose CIs run an inventory agent (see 0002_standard_types).
AGENT_CAPABLE = ["server", "virtual-machine", "desktop", "laptop"]
#: Built-in classes whose page opens the impact view upstream: what they depend on.
UPSTREAM_FIRST = ["business-service", "application"]


def create(apps, schema_editor):
    """Set the flags on the built-in classes (idempotent; tests call it after a flush)."""
    CIType = apps.get_model("cmdb", "CIType")
    CIType.objects.filter(slug__in=AGENT_CAPABLE).update(agent_capable=True)
    CIType.objects.filter(slug__in=UPSTREAM_FIRST).update(impact_direction="upstream")


class Migration(migrations.Migration):
    dependencies = [("cmdb", "0008_audit_history_to_itsm")]

    operations = [
        migrations.AddField(
            model_name="citype",
            name="agent_capable",
            field=models.BooleanField(
                default=False,
                help_text="Its CIs can run an inventory agent: their page shows discovery, "
                "storage and installed software.",
                verbose_name="can carry an agent",
            ),
        ),
        migrations.AddField(
            model_name="citype",
            name="impact_direction",
            field=models.CharField(
                choices=[
                    ("downstream", "Downstream (who is affected)"),
                    ("upstream", "Upstream (what it depends on)"),
                ],
                default="downstream",
                help_text="Direction the CI page's impact view shows first: upstream (what it "
                "depends on) suits business services and applications.",
                max_length=20,
                verbose_name="impact view opens",
            ),
        ),
        migrations.RunPython(create, migrations.RunPython.noop),
    ]
