"""Problems (the unknown cause behind one or more incidents) and known errors (a cause that is
understood, with its workaround, searchable by the service desk and, once published, by end
users). Written only by `incidents.problem_services`."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Q
from django.urls import reverse

from cmdb.models import CIType, ConfigurationItem

from ..problem_choices import ProblemStatus
from .incident import Incident


class KnownError(models.Model):
    """A diagnosed fault with its root cause and workaround (the known-error base).

    `search_vector` is filled by the services on PostgreSQL (GIN-indexed there, see the
    migration); SQLite searches the text columns with `icontains`.
    """

    title = models.CharField("title", max_length=200)
    symptoms = models.TextField("symptoms", blank=True)
    root_cause = models.TextField("root cause", blank=True)
    workaround = models.TextField("workaround", blank=True)
    solution = models.TextField("permanent solution", blank=True)
    category = models.CharField("incident category", max_length=100, blank=True)
    cis = models.ManyToManyField(
        ConfigurationItem, blank=True, related_name="known_errors", verbose_name="CIs"
    )
    ci_types = models.ManyToManyField(
        CIType, blank=True, related_name="known_errors", verbose_name="CI types"
    )
    published = models.BooleanField(
        "published", default=False, help_text="Published known errors are readable by end users."
    )
    published_at = models.DateTimeField("published", null=True, blank=True)
    search_vector = SearchVectorField("search vector", null=True, editable=False)
    created = models.DateTimeField("created", auto_now_add=True)
    updated = models.DateTimeField("updated", auto_now=True)

    class Meta:
        ordering = ["-updated", "-id"]
        permissions = [("view_published_knownerror", "Can read published known errors")]
        indexes = [models.Index(fields=["published", "category"], name="incidents_ke_pub_cat")]

    def __str__(self) -> str:
        return f"KE-{self.pk or 0:05d} {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("problems:known-error-detail", args=[self.pk])


class Problem(models.Model):
    """The cause, not yet known or not yet removed, of one or more incidents."""

    number = models.CharField("number", max_length=20, unique=True)
    title = models.CharField("title", max_length=200)
    description = models.TextField("description", blank=True)
    status = models.CharField(
        "status", max_length=20, choices=ProblemStatus.choices, default=ProblemStatus.NEW
    )
    priority = models.PositiveSmallIntegerField(
        "priority", default=3, help_text="1 (highest) to 5."
    )
    incidents = models.ManyToManyField(
        Incident, blank=True, related_name="problems", verbose_name="incidents"
    )
    root_cause = models.TextField("root cause", blank=True)
    workaround = models.TextField("workaround", blank=True)
    resolution = models.TextField("resolution", blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="problems_owned",
    )
    known_error = models.ForeignKey(
        KnownError,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="problems",
        verbose_name="known error",
    )
    version = models.PositiveIntegerField("version", default=1)
    created = models.DateTimeField("created", auto_now_add=True)
    updated = models.DateTimeField("updated", auto_now=True)
    resolved_at = models.DateTimeField("resolved", null=True, blank=True)
    closed_at = models.DateTimeField("closed", null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ProblemStatus.values), name="incidents_problem_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(priority__gte=1, priority__lte=5),
                name="incidents_problem_priority_range",
            ),
        ]
        indexes = [models.Index(fields=["status", "priority"], name="incidents_problem_status")]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("problems:problem-detail", args=[self.pk])
