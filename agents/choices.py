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
    HELD = "held", "Held (key not bound to the CI it describes: waits for a CMDB Manager)"


#: Allowed moves of a stored report. `failed` retries (to itself); `held` waits for a CMDB
#: Manager: approving the binding applies it (`processed`), refusing it rejects it.
REPORT_TRANSITIONS: dict[str, frozenset[str]] = {
    ReportStatus.RECEIVED: frozenset(
        {ReportStatus.PROCESSED, ReportStatus.REJECTED, ReportStatus.FAILED, ReportStatus.HELD}
    ),
    ReportStatus.FAILED: frozenset(
        {ReportStatus.PROCESSED, ReportStatus.REJECTED, ReportStatus.FAILED, ReportStatus.HELD}
    ),
    ReportStatus.HELD: frozenset({ReportStatus.PROCESSED, ReportStatus.REJECTED}),
    ReportStatus.PROCESSED: frozenset(),
    ReportStatus.REJECTED: frozenset(),
}


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
    BINDING_APPROVED = "binding_approved", "Key binding approved by a CMDB Manager"
    BINDING_REFUSED = "binding_refused", "Key binding refused by a CMDB Manager"
    COLLECTOR = "collector", "Collector flag changed by a CMDB Manager"


class DiscrepancyKind(models.TextChoices):
    UNAPPROVED_SOFTWARE = "unapproved_software", "Software no change or release put there"
    DISPOSED_REPORTING = "disposed_reporting", "Disposed CI still reports"
    STALE = "stale", "Managed CI stopped reporting"
    HARDWARE_CHANGED = "hardware_changed", "Hardware changed"
    IDENTITY_CONFLICT = "identity_conflict", "Identifiers point at different CIs"
    IDENTITY_HOLD = "identity_hold", "Report held: key not bound to this CI"
    RELEASE_MISMATCH = "release_mismatch", "Differs from what a release recorded"


class DiscrepancyStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"
    ACCEPTED = "accepted", "Accepted (expected)"
    REFUSED = "refused", "Refused (binding refused)"


#: Allowed moves of a discrepancy. Closed is final: seen again, a new one is opened. `refused`
#: is only for an identity hold whose binding a CMDB Manager refused.
DISCREPANCY_TRANSITIONS: dict[str, frozenset[str]] = {
    DiscrepancyStatus.OPEN: frozenset(
        {DiscrepancyStatus.RESOLVED, DiscrepancyStatus.ACCEPTED, DiscrepancyStatus.REFUSED}
    ),
    DiscrepancyStatus.RESOLVED: frozenset(),
    DiscrepancyStatus.ACCEPTED: frozenset(),
    DiscrepancyStatus.REFUSED: frozenset(),
}

#: Devices that carry no agent of their own (`item_type` of a normalised report, and the slugs
#: of the CI types `reconcile.choose_ci_type` gives them): a collector key may report them, as
#: their source, without being bound to any of them.
COLLECTED_ITEM_TYPES = frozenset({"printer", "network_equipment"})
COLLECTED_CI_TYPE_SLUGS = frozenset({"printer", "network-device"})


class EventSeverity(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"
