"""Releases, their plan tasks, acceptance test results and the Release Readiness Review."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from ..choices import (
    ReadinessDecision,
    ReleasePriority,
    ReleaseStatus,
    ReleaseType,
    TestEnvironment,
)

#: The PostgreSQL sequence of release numbers (created by migration 0001).
NUMBER_SEQUENCE = "releases_release_number"
NUMBER_PREFIX = "REL"


class Release(models.Model):
    """A release: approved RFCs built into a package and deployed in waves to target CIs."""

    number = models.CharField("number", max_length=20, unique=True, editable=False)
    title = models.CharField("title", max_length=200)
    description = models.TextField("description", blank=True)
    release_type = models.CharField(
        "type", max_length=20, choices=ReleaseType.choices, default=ReleaseType.MINOR
    )
    priority = models.CharField(
        "priority", max_length=20, choices=ReleasePriority.choices, default=ReleasePriority.NORMAL
    )
    status = models.CharField(
        "status", max_length=20, choices=ReleaseStatus.choices, default=ReleaseStatus.PLANNING
    )
    changes = models.ManyToManyField(
        "changes.Change",
        blank=True,
        related_name="releases",
        help_text="The approved RFCs this release implements.",
    )
    package = models.ForeignKey(
        "releases.ReleasePackage",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="releases",
    )
    training = models.TextField("training", blank=True)
    support = models.TextField("support", blank=True)
    communication = models.TextField("communication", blank=True)
    logistics = models.TextField("logistics", blank=True)
    target_filter = models.JSONField(
        "target filter",
        default=dict,
        blank=True,
        help_text="Query parameters of /api/v1/cmdb/cis/ selecting the target CIs.",
    )
    wave_plan = models.JSONField(
        "wave plan",
        default=list,
        blank=True,
        help_text='[{"name", "selector", "gate": {"kind", "min_success_pct", "bake_minutes", '
        '"max_new_incidents"}}, …]; empty: a pilot of one CI, then the rest.',
    )
    window_start = models.DateTimeField("deployment window start", null=True, blank=True)
    window_end = models.DateTimeField("deployment window end", null=True, blank=True)
    version = models.PositiveIntegerField("version", default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created = models.DateTimeField("created", auto_now_add=True)
    updated = models.DateTimeField("updated", auto_now=True)

    class Meta:
        ordering = ["-created", "-id"]
        permissions = [
            ("deploy_release", "Can see and act on deployment targets"),
            ("control_deployment", "Can start, pause, resume, cancel and back out deployments"),
            ("decide_readiness", "Can record the readiness review and its go/no-go"),
            ("sign_off_wave", "Can sign off a deployment wave"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ReleaseStatus.values), name="releases_release_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(release_type__in=ReleaseType.values),
                name="releases_release_type_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"


class ReleaseTask(models.Model):
    """A task of a release's plan: who does what by when, with which resources."""

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="tasks")
    title = models.CharField("title", max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    due = models.DateField("due", null=True, blank=True)
    resources = models.TextField("resources", blank=True)
    done = models.BooleanField("done", default=False)

    class Meta:
        ordering = ["due", "id"]

    def __str__(self) -> str:
        return self.title


class TestResult(models.Model):
    """An acceptance test of the release, in a test or production environment."""

    __test__ = False  # not a pytest class

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="test_results")
    name = models.CharField("name", max_length=200)
    environment = models.CharField(
        "environment", max_length=20, choices=TestEnvironment.choices, default=TestEnvironment.TEST
    )
    passed = models.BooleanField("passed")
    proves_backout = models.BooleanField(
        "proves the backout procedure",
        default=False,
        help_text="This test ran the package's backout procedure successfully.",
    )
    notes = models.TextField("notes", blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    recorded_at = models.DateTimeField("recorded", auto_now_add=True)

    class Meta:
        ordering = ["recorded_at", "id"]

    def __str__(self) -> str:
        return self.name


class ReadinessReview(models.Model):
    """The Release Readiness Review: the checklist and the go / no-go decision."""

    release = models.OneToOneField(Release, on_delete=models.CASCADE, related_name="readiness")
    deployment_order = models.BooleanField("deployment order agreed", default=False)
    plans_signed_off = models.BooleanField("plans signed off", default=False)
    resources = models.BooleanField("resources available", default=False)
    communications = models.BooleanField("communications ready", default=False)
    training = models.BooleanField("training done", default=False)
    environment_ready = models.BooleanField("environment ready", default=False)
    decision = models.CharField(
        "decision", max_length=10, choices=ReadinessDecision.choices, blank=True, default=""
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField("decided", null=True, blank=True)
    notes = models.TextField("notes", blank=True)
    version = models.PositiveIntegerField("version", default=1)

    CHECKLIST = (
        "deployment_order",
        "plans_signed_off",
        "resources",
        "communications",
        "training",
        "environment_ready",
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(decision__in=ReadinessDecision.values),
                name="releases_readiness_decision_valid",
            )
        ]

    def __str__(self) -> str:
        return f"Readiness of {self.release_id}"
