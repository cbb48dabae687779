"""Enumerations of change management, with the RFC workflow as data (values per the contract)."""

from __future__ import annotations

from django.db import models


class ChangeStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    INFO_REQUESTED = "info_requested", "Information requested"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    SCHEDULED = "scheduled", "Scheduled"
    IMPLEMENTED = "implemented", "Implemented"
    REVIEWED = "reviewed", "Reviewed"
    CLOSED = "closed", "Closed"
    CANCELLED = "cancelled", "Cancelled"


S = ChangeStatus

#: The allowed moves of an RFC: status → the statuses it may move to. One service per move.
CHANGE_TRANSITIONS: dict[str, frozenset[str]] = {
    S.DRAFT: frozenset({S.SUBMITTED, S.CANCELLED}),
    # Standard changes from the catalogue are approved at submit (pre-approved).
    S.SUBMITTED: frozenset({S.APPROVED, S.REJECTED, S.INFO_REQUESTED, S.CANCELLED}),
    S.INFO_REQUESTED: frozenset({S.SUBMITTED, S.CANCELLED}),
    S.APPROVED: frozenset({S.SCHEDULED, S.IMPLEMENTED, S.CANCELLED}),
    S.SCHEDULED: frozenset({S.SCHEDULED, S.IMPLEMENTED, S.CANCELLED}),
    S.IMPLEMENTED: frozenset({S.REVIEWED}),
    S.REVIEWED: frozenset({S.CLOSED}),
    S.REJECTED: frozenset(),
    S.CLOSED: frozenset(),
    S.CANCELLED: frozenset(),
}

#: Statuses an RFC is still open in (it may be cancelled from these).
OPEN_STATUSES: frozenset[str] = frozenset(
    status for status, moves in CHANGE_TRANSITIONS.items() if S.CANCELLED in moves
)

#: Statuses whose RFC waits for a decision of its approvers.
AWAITING_DECISION: frozenset[str] = frozenset({S.SUBMITTED})

#: Statuses that hold a slot on the calendar (conflicts are looked for among these).
ON_CALENDAR: frozenset[str] = frozenset({S.SCHEDULED, S.APPROVED, S.IMPLEMENTED})


def can_move(current: str, new: str) -> bool:
    """Whether the workflow allows `current` → `new`."""
    return new in CHANGE_TRANSITIONS.get(current, frozenset())


class ChangeType(models.TextChoices):
    STANDARD = "standard", "Standard"
    NORMAL = "normal", "Normal"
    EMERGENCY = "emergency", "Emergency"


class ChangeCategory(models.TextChoices):
    REQUIREMENT_CHANGE = "requirement_change", "Requirement change"
    BUG_WORKAROUND = "bug_workaround", "Bug workaround"
    HARDWARE_FOR_DEMAND = "hardware_for_demand", "Hardware for demand"
    SOFTWARE_INSTALL = "software_install", "Software install"
    SOFTWARE_UPDATE = "software_update", "Software update"
    CONFIGURATION = "configuration", "Configuration change"
    DECOMMISSION = "decommission", "Decommission"
    OTHER = "other", "Other"


class ChangeReason(models.TextChoices):
    COMPLIANCE = "compliance", "Compliance"
    POLICY = "policy", "Policy"
    DEFECT = "defect", "Defect"
    NEW_BUSINESS_REQUIREMENT = "new_business_requirement", "New business requirement"
    SECURITY = "security", "Security"
    CAPACITY = "capacity", "Capacity"
    END_OF_LIFE = "end_of_life", "End of life"
    OTHER = "other", "Other"


class ChangePriority(models.TextChoices):
    ROUTINE = "routine", "Routine"
    URGENT = "urgent", "Urgent"
    EMERGENCY = "emergency", "Emergency"


class RiskLevel(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    VERY_HIGH = "very_high", "Very high"


#: Risk levels in ascending order (rules compare ranges on this order).
RISK_ORDER: dict[str, int] = {level: i for i, level in enumerate(RiskLevel.values)}


class BodyKind(models.TextChoices):
    """Who an approval rule sends an RFC to."""

    NONE = "none", "Nobody (pre-approved standard change)"
    CAB = "cab", "Change Advisory Board"
    ECAB = "ecab", "Emergency CAB"
    CI_OWNER = "ci_owner", "Owner of the CIs"


class CabKind(models.TextChoices):
    CAB = "cab", "CAB"
    ECAB = "ecab", "Emergency CAB"


class VoteDecision(models.TextChoices):
    APPROVE = "approve", "Approve"
    REJECT = "reject", "Reject"


class ReviewOutcome(models.TextChoices):
    SUCCESSFUL = "successful", "Successful"
    FAILED = "failed", "Failed"
    BACKED_OUT = "backed_out", "Backed out"


class MeetingStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    HELD = "held", "Held"


class MeetingDecision(models.TextChoices):
    """What a CAB meeting decides about an RFC on its agenda."""

    APPROVE = "approve", "Approve"
    REJECT = "reject", "Reject"
    REQUEST_INFO = "request_info", "Ask for information"
    DEFER = "defer", "Defer"
