"""The summary table behind the trend report: incidents per day and per value of a dimension,
kept up to date by `incidents.trends.refresh` (Celery beat task `incidents.refresh_trends`)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from ..problem_choices import TrendDimension


class IncidentDailyCount(models.Model):
    """How many incidents were logged on `day` with `value` for `dimension`.

    Rows are rebuilt per day (delete then insert), so a refresh is idempotent. An incident with
    CIs of several types counts once under each type.
    """

    day = models.DateField("day")
    dimension = models.CharField("dimension", max_length=20, choices=TrendDimension.choices)
    value = models.CharField("value", max_length=200, blank=True)
    count = models.PositiveIntegerField("incidents")

    class Meta:
        ordering = ["dimension", "day", "value"]
        constraints = [
            models.UniqueConstraint(
                fields=["dimension", "day", "value"], name="incidents_dailycount_unique"
            ),
            models.CheckConstraint(
                condition=Q(dimension__in=TrendDimension.values),
                name="incidents_dailycount_dimension_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.dimension}={self.value}: {self.count}"


class TrendWatermark(models.Model):
    """When the summary table was last refreshed: the next run recomputes the days of the
    incidents changed since then."""

    name = models.CharField("name", max_length=50, unique=True)
    refreshed_at = models.DateTimeField("refreshed at")

    def __str__(self) -> str:
        return f"{self.name}: {self.refreshed_at:%Y-%m-%d %H:%M:%S}"
