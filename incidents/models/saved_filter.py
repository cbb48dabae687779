"""A help-desk agent's named queue filters (a query string), listed in the queue's sidebar."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class SavedFilter(models.Model):
    """A named query string of the incident queue, private to its owner."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="incident_filters"
    )
    name = models.CharField("name", max_length=80)
    query = models.CharField("query string", max_length=1000, blank=True)
    created = models.DateTimeField("created", auto_now_add=True)

    class Meta:
        verbose_name = "saved queue filter"
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="incidents_savedfilter_unique")
        ]

    def __str__(self) -> str:
        return self.name
