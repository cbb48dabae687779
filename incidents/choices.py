"""Enumerations of incident management (values per the public contract)."""

from django.db import models


class Severity(models.TextChoices):
    MINOR = "minor", "Minor"
    MODERATE = "moderate", "Moderate"
    SEVERE = "severe", "Severe"


class Level(models.TextChoices):
    """Impact and urgency share one scale."""

    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


class Cause(models.TextChoices):
    DOCUMENTATION = "documentation", "Documentation"
    TRAINING = "training", "Training"
    CONFIGURATION = "configuration", "Configuration"
    UNKNOWN_BUG = "unknown_bug", "Unknown bug"
    UNPATCHED_VULNERABILITY = "unpatched_vulnerability", "Unpatched vulnerability"
    LOAD_CHANGE = "load_change", "Load change"
    USER_ERROR = "user_error", "User error"
    OTHER = "other", "Other"


class IncidentStatus(models.TextChoices):
    NEW = "new", "New"
    ASSIGNED = "assigned", "Assigned"
    IN_PROGRESS = "in_progress", "In progress"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"


class Source(models.TextChoices):
    """How an incident was raised."""

    SERVICE_DESK = "service_desk", "Service desk"
    API = "api", "REST API"
    AUDIT = "audit", "CMDB audit"


#: Priority from impact x urgency (1 = most urgent), the usual ITIL matrix.
PRIORITY_MATRIX = {
    (Level.HIGH, Level.HIGH): 1,
    (Level.HIGH, Level.MEDIUM): 2,
    (Level.MEDIUM, Level.HIGH): 2,
    (Level.HIGH, Level.LOW): 3,
    (Level.MEDIUM, Level.MEDIUM): 3,
    (Level.LOW, Level.HIGH): 3,
    (Level.MEDIUM, Level.LOW): 4,
    (Level.LOW, Level.MEDIUM): 4,
    (Level.LOW, Level.LOW): 5,
}
