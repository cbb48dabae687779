"""Tables of the shared core: the one audit log every app writes to.

The module also makes Django count `itsm` as an app with models, so it is sent the
post_migrate signal on which the role groups' permissions are synced (see itsm/roles.py).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
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
    changes = models.JSONField("changes", default=dict)

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
