"""Enumerations of the agents app."""

from django.db import models


class AgentStatus(models.TextChoices):
    PENDING = "pending", "Pending approval"
    ACTIVE = "active", "Active"
    REVOKED = "revoked", "Revoked"


#: Allowed moves of an agent's key. `revoked` is final: a revoked machine enrols again.
AGENT_TRANSITIONS: dict[str, frozenset[str]] = {
    AgentStatus.PENDING: frozenset({AgentStatus.ACTIVE, AgentStatus.REVOKED}),
    AgentStatus.ACTIVE: frozenset({AgentStatus.REVOKED}),
    AgentStatus.REVOKED: frozenset(),
}


class ReportStatus(models.TextChoices):
    RECEIVED = "received", "Received, waiting to be processed"
    PROCESSED = "processed", "Processed"
    REJECTED = "rejected", "Rejected (cannot be applied)"
    FAILED = "failed", "Failed (will be retried)"


class RejectionReason(models.TextChoices):
    """Why a signed request was refused: the kinds of the security log."""

    OVERSIZE = "oversize", "Body too large"
    CONTENT_TYPE = "content_type", "Wrong content type"
    MALFORMED_SIGNATURE = "malformed_signature", "Missing or malformed signature headers"
    UNKNOWN_KEY = "unknown_key", "Unknown key"
    PENDING_KEY = "pending_key", "Key not approved yet"
    REVOKED_KEY = "revoked_key", "Revoked key"
    BAD_SIGNATURE = "bad_signature", "Signature does not verify"
    CLOCK = "clock", "created outside the allowed window"
    REPLAY = "replay", "Nonce already used"
    DIGEST = "digest", "Content-Digest missing or wrong"
    COVERAGE = "coverage", "Required component not covered"
    INVALID_JSON = "invalid_json", "Body is not valid JSON"
    SCHEMA = "schema", "Body fails the report schema"
    IDENTITY = "identity", "Key reports for another machine"
    ENROLLMENT = "enrollment", "Bad enrolment token"


class DiscrepancyKind(models.TextChoices):
    UNAPPROVED_SOFTWARE = "unapproved_software", "Software no change or release put there"
    DISPOSED_REPORTING = "disposed_reporting", "Disposed CI still reports"
    STALE = "stale", "Managed CI stopped reporting"
    HARDWARE_CHANGED = "hardware_changed", "Hardware changed"
    IDENTITY_CONFLICT = "identity_conflict", "Identifiers point at different CIs"


class DiscrepancyStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"
    ACCEPTED = "accepted", "Accepted (expected)"


class EventSeverity(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"
