"""Incidents, their work log and the quick-log templates. Every write goes through
`incidents.services`; the allowed status moves are in `incidents.choices`."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from cmdb.models import ConfigurationItem, Department

from ..choices import (
    Cause,
    IncidentStatus,
    Level,
    ResolutionMethod,
    Severity,
    Source,
    WorkLogVisibility,
)


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
    caller_role = models.CharField(
        "caller's role",
        max_length=100,
        blank=True,
        help_text="The caller's job title as the CMDB knew it when the incident was logged.",
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
    resolution_method = models.CharField(
        "resolution method", max_length=100, choices=ResolutionMethod.choices, blank=True
    )
    resolution = models.TextField("resolution", blank=True)
    related = models.ManyToManyField(
        "self", blank=True, symmetrical=True, verbose_name="related incidents"
    )
    # SLA bookkeeping (incidents.sla_services): the policy and its targets when the current
    # cycle started, the business time spent on hold (due times shift by it).
    sla_policy = models.ForeignKey(
        "incidents.SlaPolicy",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="SLA policy",
    )
    response_target_min = models.PositiveIntegerField(
        "response target (business minutes)", null=True, blank=True
    )
    resolve_target_min = models.PositiveIntegerField(
        "resolution target (business minutes)", null=True, blank=True
    )
    sla_started_at = models.DateTimeField("SLA clock started", null=True, blank=True)
    sla_cycle = models.PositiveSmallIntegerField(
        "SLA cycle", default=1, help_text="1, then one more at each reopening."
    )
    on_hold_since = models.DateTimeField("on hold since", null=True, blank=True)
    hold_reason = models.CharField("hold reason", max_length=200, blank=True)
    hold_business_s = models.PositiveIntegerField(
        "business seconds on hold", default=0, help_text="In the current SLA cycle."
    )
    response_due = models.DateTimeField("response due", null=True, blank=True)
    resolve_due = models.DateTimeField("resolve due", null=True, blank=True)
    sla_breached = models.BooleanField("SLA breached", default=False)
    responded_at = models.DateTimeField("responded", null=True, blank=True)
    resolved_at = models.DateTimeField("resolved", null=True, blank=True)
    closed_at = models.DateTimeField("closed", null=True, blank=True)
    version = models.PositiveIntegerField(
        "version", default=1, help_text="Optimistic concurrency counter."
    )
    created = models.DateTimeField("created", auto_now_add=True)
    updated = models.DateTimeField("updated", auto_now=True)

    class Meta:
        ordering = ["-created", "-id"]
        permissions = [
            ("resolve_incident", "Can resolve and close incidents"),
            ("escalate_incident", "Can escalate incidents"),
            ("report_incident", "Can report own incidents (self-service)"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=IncidentStatus.values), name="incidents_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(priority__gte=1, priority__lte=5), name="incidents_priority_range"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "priority"], name="incidents_status_priority"),
            models.Index(fields=["status", "resolve_due"], name="incidents_status_due"),
            models.Index(fields=["created"], name="incidents_created"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @property
    def is_open(self) -> bool:
        from ..choices import OPEN_STATUSES

        return self.status in OPEN_STATUSES


class WorkLogEntry(models.Model):
    """A note on an incident, with the time spent. End users read and write public ones only."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="worklog")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    author_name = models.CharField("author", max_length=150, blank=True)
    note = models.TextField("note")
    minutes = models.PositiveIntegerField("minutes spent", default=0)
    visibility = models.CharField(
        "visibility",
        max_length=10,
        choices=WorkLogVisibility.choices,
        default=WorkLogVisibility.INTERNAL,
    )
    created = models.DateTimeField("created", default=timezone.now)

    class Meta:
        verbose_name = "work log entry"
        verbose_name_plural = "work log entries"
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["incident", "-created"], name="incidents_worklog_inc")]
        constraints = [
            models.CheckConstraint(
                condition=Q(visibility__in=WorkLogVisibility.values),
                name="incidents_worklog_visibility_valid",
            )
        ]

    def __str__(self) -> str:
        return f"{self.incident_id}: {self.note[:50]}"

    @property
    def public(self) -> bool:
        return self.visibility == WorkLogVisibility.PUBLIC


class QuickLogTemplate(models.Model):
    """A trivial recurring incident (password reset, printer jam) logged and resolved in one
    step by `incidents.services.incident_quick_log`."""

    name = models.CharField("name", max_length=100, unique=True)
    title = models.CharField("title", max_length=200)
    category = models.CharField("category", max_length=100, blank=True)
    cause = models.CharField("cause", max_length=30, choices=Cause.choices, blank=True)
    severity = models.CharField(
        "severity", max_length=10, choices=Severity.choices, default=Severity.MINOR
    )
    impact = models.CharField("impact", max_length=10, choices=Level.choices, default=Level.LOW)
    urgency = models.CharField("urgency", max_length=10, choices=Level.choices, default=Level.LOW)
    resolution_method = models.CharField(
        "resolution method", max_length=100, choices=ResolutionMethod.choices
    )
    resolution = models.TextField("resolution")
    active = models.BooleanField("active", default=True)
    position = models.PositiveSmallIntegerField("position", default=0)

    class Meta:
        verbose_name = "quick-log template"
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name
