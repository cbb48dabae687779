"""Release packages: artifacts of the library with install, verify and backout procedures."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from ..choices import StepModule, StepPhase


class ReleasePackage(models.Model):
    """What a release installs: artifacts and the ordered steps that install, verify and undo."""

    name = models.CharField("name", max_length=200)
    version = models.CharField("version", max_length=100)
    description = models.TextField("description", blank=True)
    artifacts = models.ManyToManyField(
        "releases.SoftwareArtifact", blank=True, related_name="packages"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created = models.DateTimeField("created", auto_now_add=True)

    class Meta:
        ordering = ["name", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="releases_package_version")
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


class PackageStep(models.Model):
    """One step of a package's procedure: a module with parameters, an optional condition
    (`{"unless_installed": {"name", "version"}}`), a success test, and whether running it twice
    is harmless (idempotent: a step whose outcome was lost is retried, otherwise a person
    decides)."""

    package = models.ForeignKey(ReleasePackage, on_delete=models.CASCADE, related_name="steps")
    phase = models.CharField(
        "phase", max_length=10, choices=StepPhase.choices, default=StepPhase.INSTALL
    )
    order = models.PositiveIntegerField("order")
    name = models.CharField("name", max_length=200)
    module = models.CharField("module", max_length=30, choices=StepModule.choices)
    params = models.JSONField("parameters", default=dict, blank=True)
    condition = models.JSONField("condition", default=dict, blank=True)
    success_test = models.JSONField("success test", default=dict, blank=True)
    artifact = models.ForeignKey(
        "releases.SoftwareArtifact",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    idempotent = models.BooleanField("idempotent", default=True)

    class Meta:
        ordering = ["package", "phase", "order", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["package", "phase", "order"], name="releases_package_step_order"
            ),
            models.CheckConstraint(
                condition=Q(phase__in=StepPhase.values), name="releases_package_step_phase"
            ),
            models.CheckConstraint(
                condition=Q(module__in=StepModule.values), name="releases_package_step_module"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.phase} {self.order}: {self.name}"
