"""Tables of the shared core: the one audit log every app writes to, and API tokens.

The module also makes Django count `itsm` as an app with models, so it is sent the
post_migrate signal on which the role groups' permissions are synced (see itsm/roles.py).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from .choices import ChangeSource


class AuditEntry(models.Model):
    """One recorded change of any object: what changed, who, when, why, through what.

    Written explicitly by services through `itsm.audit.record()` (never by signals), so changes
    made by Celery tasks, agents, imports and management commands are recorded with their
    source. `object_id` is no foreign key: an object's entries outlive it. `changes` maps a
    field to `{"old": …, "new": …}`, or holds `{"added": […], "removed": […]}` for sets.
    """

    content_type = models.ForeignKey(
        ContentType, on_delete=models.PROTECT, related_name="+", verbose_name="object type"
    )
    object_id = models.BigIntegerField("object id", null=True, blank=True)
    object_repr = models.CharField("object", max_length=200)
    kind = models.CharField("kind", max_length=40)
    at = models.DateTimeField("at", db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_name = models.CharField("actor", max_length=150, blank=True)
    source = models.CharField("source", max_length=20, choices=ChangeSource.choices)
    source_ref = models.CharField("source reference", max_length=100, blank=True)
    reason = models.TextField("reason", blank=True)
    request_id = models.CharField("request id", max_length=64, blank=True)
    changes = models.JSONField("changes", default=dict, encoder=DjangoJSONEncoder)

    class Meta:
        verbose_name = "audit entry"
        verbose_name_plural = "audit entries"
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(
                fields=["content_type", "object_id", "-at", "-id"], name="itsm_audit_object_at"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.object_repr} {self.kind} at {self.at:%Y-%m-%d %H:%M}"


class ApiToken(models.Model):
    """A named API key of a user (`Authorization: Token <key>`). Only the key's SHA-256 is
    stored; the key itself is shown once, when the token is created. A user may hold several;
    each may expire, and records when it was last used (at most once a minute)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="api_tokens",
        verbose_name="user",
    )
    name = models.CharField("name", max_length=100)
    key_hash = models.CharField("key hash", max_length=64, unique=True, editable=False)
    prefix = models.CharField(
        "prefix", max_length=12, editable=False, help_text="First characters, to recognise it."
    )
    created = models.DateTimeField("created", auto_now_add=True)
    expires = models.DateTimeField("expires", null=True, blank=True)
    last_used = models.DateTimeField("last used", null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created"]
        verbose_name = "API token"
        verbose_name_plural = "API tokens"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class NumberCounter(models.Model):
    """The next value of a record number (INC-…, RFC-…) on databases without sequences (SQLite).
    PostgreSQL uses a real sequence (`itsm.numbering`)."""

    name = models.CharField(max_length=60, primary_key=True)
    value = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = "number counter"

    def __str__(self) -> str:
        return f"{self.name}={self.value}"
