"""Enumerations shared by every app."""

from django.db import models


class ChangeSource(models.TextChoices):
    """Where a recorded change came from (the `source` of an audit entry)."""

    USER = "user", "User (web UI)"
    API = "api", "REST API"
    AGENT = "agent", "Agent report"
    RELEASE = "release", "Release deployment"
    IMPORT = "import", "CSV import"
    ADMIN = "admin", "Django admin"
    SYSTEM = "system", "System"
