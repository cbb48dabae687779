"""The definitive software library: versioned artifacts, never edited in place."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


def artifact_path(instance: SoftwareArtifact, filename: str) -> str:
    """Where an uploaded artifact is stored: by name and version, so versions never collide."""
    return f"software-library/{instance.name}/{instance.version}/{filename}"


class SoftwareArtifact(models.Model):
    """One version of a piece of software: an uploaded file or a reference, with its SHA-256.

    Never changed after creation (no update service, no PUT/PATCH, read-only admin): a new
    version is a new row.
    """

    name = models.CharField("name", max_length=200)
    version = models.CharField("version", max_length=100)
    author = models.CharField("author", max_length=200)
    source = models.CharField("source", max_length=500)
    licence = models.CharField("licence", max_length=200)
    description = models.TextField("description", blank=True)
    file = models.FileField("file", upload_to=artifact_path, blank=True, max_length=500)
    reference_url = models.URLField("reference URL", blank=True, max_length=1000)
    sha256 = models.CharField("SHA-256", max_length=64)
    size = models.BigIntegerField("size (bytes)", default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created = models.DateTimeField("created", auto_now_add=True)

    class Meta:
        ordering = ["name", "-created", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="releases_artifact_version"),
            models.CheckConstraint(
                condition=Q(sha256__regex=r"^[0-9a-f]{64}$"), name="releases_artifact_sha256_hex"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"
