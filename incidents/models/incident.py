"""Incidents. The service-desk workflow (assignment, SLAs, escalation, resolution, problems,
known errors, trends) arrives with its own issue; this table already carries the contract's
fields so the CMDB audit can raise incidents automatically."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from cmdb.models import ConfigurationItem, Department

from ..choices import Cause, IncidentStatus, Level, Severity, Source


class Incident(models.Model):
    """An unplanned interruption or reduction in quality of an IT service, tied to the CIs it touches."""

    number = models.CharField("number", max_length=20, unique=True)
    title = models.CharField("title", max_length=200)
    description = models.TextField("description", blank=True)
    severity = models.CharField(
        "severity", max_length=10, choices=Severity.choices, default=Severity.MODERATE
    )
    impact = models.CharField("impact", max_length=10, choices=Level.choices, default=Level.MEDIUM)
    urgency = models.CharField(
        "urgency", max_length=10, choices=Level.choices, default=Level.MEDIUM
    )
    priority = models.PositiveSmallIntegerField(
        "priority", default=3, help_text="1 (highest) to 5, from impact and urgency."
    )
    status = models.CharField(
        "status", max_length=15, choices=IncidentStatus.choices, default=IncidentStatus.NEW
    )
    category = models.CharField("category", max_length=100, blank=True)
    cause = models.CharField("cause", max_length=30, choices=Cause.choices, blank=True)
    source = models.CharField(
        "raised through", max_length=20, choices=Source.choices, default=Source.SERVICE_DESK
    )
    caller = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="incidents_called",
    )
    department = models.ForeignKey(
        Department, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    cis = models.ManyToManyField(
        ConfigurationItem, blank=True, related_name="incidents", verbose_name="CIs"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="incidents_assigned",
    )
    assignment_group = models.ForeignKey(
        "auth.Group", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolution_method = models.CharField("resolution method", max_length=100, blank=True)
    resolution = models.TextField("resolution", blank=True)
    response_due = models.DateTimeField("response due", null=True, blank=True)
    resolve_due = models.DateTimeField("resolve due", null=True, blank=True)
    sla_breached = models.BooleanField("SLA breached", default=False)
    created = models.DateTimeField("created", auto_now_add=True)
    updated = models.DateTimeField("updated", auto_now=True)

    class Meta:
        ordering = ["-created", "-id"]
        permissions = [("resolve_incident", "Can resolve incidents")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=IncidentStatus.values), name="incidents_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(priority__gte=1, priority__lte=5), name="incidents_priority_range"
            ),
        ]
        indexes = [models.Index(fields=["status", "priority"], name="incidents_status_priority")]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"
