"""Hashed API tokens; existing clear-text DRF tokens move into them (same key, hash only)."""

import hashlib

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def hash_existing_tokens(apps, schema_editor):
    """Each `authtoken_token` key becomes an ApiToken with the key's SHA-256; the clear-text
    row is then deleted, so the database holds no usable key. The key keeps working."""
    old_model = apps.get_model("authtoken", "Token")
    new_model = apps.get_model("itsm", "ApiToken")
    for old in old_model.objects.all().iterator():
        digest = hashlib.sha256(old.key.encode()).hexdigest()
        new_model.objects.create(
            user_id=old.user_id,
            name="Token (from before hashing)",
            key_hash=digest,
            prefix=old.key[:8],
        )
        # auto_now_add stamped now; keep the key's real age.
        new_model.objects.filter(key_hash=digest).update(created=old.created)
    old_model.objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("itsm", "0002_audit_entries"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("authtoken", "0004_alter_tokenproxy_options"),
    ]

    operations = [
        migrations.CreateModel(
            name="ApiToken",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=100, verbose_name="name")),
                (
                    "key_hash",
                    models.CharField(
                        editable=False, max_length=64, unique=True, verbose_name="key hash"
                    ),
                ),
                (
                    "prefix",
                    models.CharField(
                        editable=False,
                        help_text="First characters, to recognise it.",
                        max_length=12,
                        verbose_name="prefix",
                    ),
                ),
                ("created", models.DateTimeField(auto_now_add=True, verbose_name="created")),
                ("expires", models.DateTimeField(blank=True, null=True, verbose_name="expires")),
                (
                    "last_used",
                    models.DateTimeField(
                        blank=True, editable=False, null=True, verbose_name="last used"
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="api_tokens",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="user",
                    ),
                ),
            ],
            options={
                "verbose_name": "API token",
                "verbose_name_plural": "API tokens",
                "ordering": ["-created"],
            },
        ),
        migrations.RunPython(hash_existing_tokens, migrations.RunPython.noop),
    ]
