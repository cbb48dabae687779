"""Service levels: business calendars, SLA policies per priority, escalation rules.

Targets are in business minutes of the policy's calendar (`incidents/sla.py` does the
arithmetic); `incidents/sla_services.py` applies them to incidents.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from cmdb.models import CIType, Department

from ..choices import SlaTarget


class BusinessCalendar(models.Model):
    """Working hours per weekday and public holidays, in one time zone."""

    name = models.CharField("name", max_length=100, unique=True)
    time_zone = models.CharField("time zone", max_length=64, default="UTC")
    country = models.CharField(
        "country",
        max_length=2,
        blank=True,
        help_text="ISO 3166 code: public holidays from the `holidays` library (blank: none).",
    )
    subdivision = models.CharField(
        "subdivision", max_length=10, blank=True, help_text="State or region, e.g. BY, CA."
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValidationError({"time_zone": "Unknown time zone."}) from exc
        if self.country:
            import holidays

            try:
                holidays.country_holidays(self.country, subdiv=self.subdivision or None)
            except NotImplementedError as exc:
                raise ValidationError({"country": str(exc)}) from exc


class WorkingHours(models.Model):
    """One working interval of a weekday (0 = Monday). An end of 00:00 means midnight."""

    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="working_hours"
    )
    weekday = models.PositiveSmallIntegerField(
        "weekday",
        choices=[
            (0, "Monday"),
            (1, "Tuesday"),
            (2, "Wednesday"),
            (3, "Thursday"),
            (4, "Friday"),
            (5, "Saturday"),
            (6, "Sunday"),
        ],
    )
    start = models.TimeField("start")
    end = models.TimeField("end", help_text="00:00 means midnight (end of the day).")

    class Meta:
        verbose_name_plural = "working hours"
        ordering = ["calendar", "weekday", "start"]
        constraints = [
            models.CheckConstraint(
                condition=Q(weekday__gte=0, weekday__lte=6), name="incidents_hours_weekday"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start:%H:%M}-{self.end:%H:%M}"


class CalendarHoliday(models.Model):
    """A day off besides the generated public holidays (company days, bridge days)."""

    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="holidays"
    )
    date = models.DateField("date")
    name = models.CharField("name", max_length=100, blank=True)

    class Meta:
        ordering = ["calendar", "date"]
        constraints = [
            models.UniqueConstraint(fields=["calendar", "date"], name="incidents_holiday_unique")
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.name}"


class SlaPolicy(models.Model):
    """Response and resolution targets for a priority, optionally for one CI type and/or one
    customer department: the most specific policy matching an incident wins (type and
    department, then type, then department, then the priority's default)."""

    name = models.CharField("name", max_length=100)
    priority = models.PositiveSmallIntegerField("priority")
    ci_type = models.ForeignKey(
        CIType,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="CI type",
    )
    department = models.ForeignKey(
        Department, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.PROTECT, related_name="+")
    response_minutes = models.PositiveIntegerField("response target (business minutes)")
    resolution_minutes = models.PositiveIntegerField("resolution target (business minutes)")

    class Meta:
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"
        ordering = ["priority", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(priority__gte=1, priority__lte=5), name="incidents_sla_priority"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        same_scope = SlaPolicy.objects.filter(
            priority=self.priority, ci_type=self.ci_type, department=self.department
        ).exclude(pk=self.pk)
        if same_scope.exists():
            raise ValidationError("A policy for this priority, CI type and department exists.")


class EscalationRule(models.Model):
    """At `threshold_percent` of a target (100 = on breach), do the actions once per incident
    and SLA cycle (`EscalationFired`)."""

    name = models.CharField("name", max_length=100)
    active = models.BooleanField("active", default=True)
    priority = models.PositiveSmallIntegerField(
        "priority", null=True, blank=True, help_text="Only incidents of this priority (blank: any)."
    )
    target = models.CharField(
        "target", max_length=12, choices=SlaTarget.choices, default=SlaTarget.RESOLUTION
    )
    threshold_percent = models.PositiveSmallIntegerField(
        "threshold (% of the target)", default=100, help_text="75: at three quarters; 100: breach."
    )
    reassign_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="reassign to user",
    )
    reassign_group = models.ForeignKey(
        "auth.Group",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="reassign to group",
    )
    raise_priority = models.BooleanField("raise priority by one", default=False)
    notify_users = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="+", verbose_name="notify users"
    )
    notify_group = models.ForeignKey(
        "auth.Group",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="notify group",
    )
    notify_assignee = models.BooleanField("notify the assignee", default=True)

    class Meta:
        ordering = ["target", "threshold_percent", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(threshold_percent__gte=1, threshold_percent__lte=1000),
                name="incidents_escalation_threshold",
            ),
            models.CheckConstraint(
                condition=Q(priority__isnull=True) | Q(priority__gte=1, priority__lte=5),
                name="incidents_escalation_priority",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class EscalationFired(models.Model):
    """A rule fired for an incident in an SLA cycle: the unique constraint makes it once."""

    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.CASCADE, related_name="escalations"
    )
    rule = models.ForeignKey(EscalationRule, on_delete=models.CASCADE, related_name="fired")
    cycle = models.PositiveSmallIntegerField("SLA cycle", default=1)
    at = models.DateTimeField("fired", auto_now_add=True)

    class Meta:
        verbose_name = "escalation fired"
        verbose_name_plural = "escalations fired"
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "rule", "cycle"], name="incidents_escalation_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.rule} → {self.incident_id} (cycle {self.cycle})"
