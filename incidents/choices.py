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
    ON_HOLD = "on_hold", "On hold"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"
    REOPENED = "reopened", "Reopened"


#: Statuses in which someone still has to work on the incident (the SLA clock runs, except
#: while on hold).
OPEN_STATUSES = frozenset(
    {
        IncidentStatus.NEW,
        IncidentStatus.ASSIGNED,
        IncidentStatus.IN_PROGRESS,
        IncidentStatus.ON_HOLD,
        IncidentStatus.REOPENED,
    }
)

#: The allowed moves: status → the statuses it may move to. One service per move
#: (`incident_assign`, `incident_start`, `incident_hold`, `incident_resume`, `incident_resolve`,
#: `incident_close`/`incident_confirm`, `incident_reopen`). Resolvable from any open status;
#: closed only once resolved; reopened from resolved, or from closed within
#: `settings.INCIDENT_REOPEN_DAYS` (checked by the service).
INCIDENT_TRANSITIONS: dict[str, frozenset[str]] = {
    IncidentStatus.NEW: frozenset(
        {IncidentStatus.ASSIGNED, IncidentStatus.IN_PROGRESS, IncidentStatus.RESOLVED}
    ),
    IncidentStatus.ASSIGNED: frozenset(
        {IncidentStatus.IN_PROGRESS, IncidentStatus.ON_HOLD, IncidentStatus.RESOLVED}
    ),
    IncidentStatus.IN_PROGRESS: frozenset({IncidentStatus.ON_HOLD, IncidentStatus.RESOLVED}),
    IncidentStatus.ON_HOLD: frozenset({IncidentStatus.IN_PROGRESS, IncidentStatus.RESOLVED}),
    IncidentStatus.RESOLVED: frozenset({IncidentStatus.CLOSED, IncidentStatus.REOPENED}),
    IncidentStatus.CLOSED: frozenset({IncidentStatus.REOPENED}),
    IncidentStatus.REOPENED: frozenset(
        {
            IncidentStatus.ASSIGNED,
            IncidentStatus.IN_PROGRESS,
            IncidentStatus.ON_HOLD,
            IncidentStatus.RESOLVED,
        }
    ),
}


def allowed_moves(status: str) -> list[str]:
    """The statuses an incident in `status` may move to, in the order of IncidentStatus."""
    allowed = INCIDENT_TRANSITIONS.get(status, frozenset())
    return [value for value in IncidentStatus.values if value in allowed]


class ResolutionMethod(models.TextChoices):
    """How an incident was resolved (counted by the trend reports)."""

    WORKAROUND = "workaround", "Workaround"
    FIX = "fix", "Fix"
    CONFIGURATION_CHANGE = "configuration_change", "Configuration change"
    REPLACEMENT = "replacement", "Replacement"
    USER_TRAINING = "user_training", "User training"
    NO_FAULT_FOUND = "no_fault_found", "No fault found"
    OTHER = "other", "Other"


class WorkLogVisibility(models.TextChoices):
    """Who reads a work log entry: IT staff only, or the caller too."""

    INTERNAL = "internal", "Internal"
    PUBLIC = "public", "Public"


class SlaTarget(models.TextChoices):
    """Which SLA target an escalation rule watches."""

    RESPONSE = "response", "Response"
    RESOLUTION = "resolution", "Resolution"


class Source(models.TextChoices):
    """How an incident was raised."""

    SERVICE_DESK = "service_desk", "Service desk"
    API = "api", "REST API"
    AUDIT = "audit", "CMDB audit"
    PORTAL = "portal", "Self-service portal"
    QUICK_LOG = "quick_log", "Quick log"


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
