"""Software products get Unicode-aware case-insensitive keys computed in Python.

SQL lower() differs between databases (SQLite folds only ASCII), so "Łukasz" and "łukasz"
compared equal in Python but not in the database; keys computed once in Python are the same
everywhere.
"""

from django.db import migrations, models


def fill_keys(apps, schema_editor):
    product_model = apps.get_model("cmdb", "SoftwareProduct")
    for product in product_model.objects.all().iterator():
        product.name_key = " ".join(product.name.casefold().split())[:255]
        product.vendor_key = " ".join(product.vendor.casefold().split())[:255]
        product.save(update_fields=["name_key", "vendor_key"])


class Migration(migrations.Migration):
    dependencies = [("cmdb", "0004_default_field_owners")]

    operations = [
        migrations.RemoveConstraint(
            model_name="softwareproduct", name="cmdb_softwareproduct_unique"
        ),
        migrations.RemoveIndex(model_name="softwareproduct", name="cmdb_software_name_lower"),
        migrations.AddField(
            model_name="softwareproduct",
            name="name_key",
            field=models.CharField(
                default="", editable=False, max_length=255, verbose_name="name key"
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="softwareproduct",
            name="vendor_key",
            field=models.CharField(
                blank=True, default="", editable=False, max_length=255, verbose_name="vendor key"
            ),
            preserve_default=False,
        ),
        migrations.RunPython(fill_keys, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="softwareproduct",
            constraint=models.UniqueConstraint(
                fields=("name_key", "vendor_key"), name="cmdb_softwareproduct_key_unique"
            ),
        ),
    ]
