"""Tables of change management: RFCs, their impact, attachments, the approval rules and bodies,
votes, CAB meetings, the standard-change catalogue and blackout periods. No workflows here:
every write is in services.py (and cab_services.py, calendar_services.py)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse

from cmdb.models import CIType, ConfigurationItem
from incidents.models import Incident

from .choices import (
    BodyKind,
    CabKind,
    ChangeCategory,
    ChangePriority,
    ChangeReason,
    ChangeStatus,
    ChangeType,
    MeetingStatus,
    ReviewOutcome,
    RiskLevel,
    VoteDecision,
)

#: The name of the PostgreSQL sequence RFC numbers come from (itsm.numbering).
NUMBER_SEQUENCE = "changes_change_number"
NUMBER_PREFIX = "RFC"


class StandardChangeTemplate(models.Model):
    """A pre-approved standard change in the catalogue: every standard RFC comes from one."""

    name = models.CharField("name", max_length=200, unique=True)
    description = models.TextField("description", blank=True)
    category = models.CharField(
        "category", max_length=30, choices=ChangeCategory.choices, default=ChangeCategory.OTHER
    )
    implementation_plan = models.TextField("implementation plan", blank=True)
    backout_plan = models.TextField("backout plan", blank=True)
    estimated_hours = models.DecimalField(
        "estimated hours", max_digits=7, decimal_places=2, null=True, blank=True
    )
    active = models.BooleanField("active", default=True)
    created = models.DateTimeField("created", auto_now_add=True)
    updated = models.DateTimeField("updated", auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "standard change template"

    def __str__(self) -> str:
        return self.name


class ApprovalBody(models.Model):
    """A CAB or an emergency CAB: who may vote, how many must, and what majority approves.

    Members are the users named here, or when none are named the members of `group` (by
    default the "CAB Member" role). An RFC is approved once at least `quorum` eligible members
    have voted, approvals are more than `majority` of the votes cast and, when named, at least
    one business and one technical member have voted.
    """

    name = models.CharField("name", max_length=100, unique=True)
    kind = models.CharField("kind", max_length=10, choices=CabKind.choices, default=CabKind.CAB)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="approval_bodies"
    )
    group = models.ForeignKey(
        "auth.Group",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Members when none are named above (by default the CAB Member role).",
    )
    quorum = models.PositiveSmallIntegerField(
        "quorum", default=2, help_text="The fewest voters for a decision."
    )
    majority = models.DecimalField(
        "majority",
        max_digits=3,
        decimal_places=2,
        default=0.5,
        help_text="Approvals must be more than this share of the votes cast.",
    )
    business_members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="+", verbose_name="business members"
    )
    technical_members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="+", verbose_name="technical members"
    )

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "approval bodies"
        constraints = [
            models.CheckConstraint(condition=Q(quorum__gte=1), name="changes_body_quorum_min"),
            models.CheckConstraint(
                condition=Q(majority__gte=0, majority__lt=1), name="changes_body_majority_range"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ApprovalRule(models.Model):
    """Where a submitted RFC goes: the first active rule (by `order`) matching its type,
    priority and risk level names the approving body."""

    name = models.CharField("name", max_length=100)
    change_type = models.CharField("change type", max_length=10, choices=ChangeType.choices)
    priority = models.CharField(
        "priority", max_length=10, choices=ChangePriority.choices, blank=True, help_text="Any."
    )
    min_risk = models.CharField(
        "lowest risk", max_length=10, choices=RiskLevel.choices, blank=True, help_text="Any."
    )
    max_risk = models.CharField(
        "highest risk", max_length=10, choices=RiskLevel.choices, blank=True, help_text="Any."
    )
    approver = models.CharField("approver", max_length=10, choices=BodyKind.choices)
    body = models.ForeignKey(
        ApprovalBody,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="rules",
        help_text="The CAB or ECAB (approver cab/ecab).",
    )
    order = models.PositiveSmallIntegerField("order", default=100)
    active = models.BooleanField("active", default=True)

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(approver__in=[BodyKind.CAB, BodyKind.ECAB]) | Q(body__isnull=False),
                name="changes_rule_body_for_cab",
            )
        ]

    def __str__(self) -> str:
        return self.name


class Change(models.Model):
    """A request for change (RFC): what is changed on which CIs, how, when, and its approval."""

    number = models.CharField("number", max_length=20, unique=True, editable=False)
    title = models.CharField("title", max_length=200)
    description = models.TextField("description", blank=True)
    originator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="changes_raised"
    )
    cis = models.ManyToManyField(
        ConfigurationItem, blank=True, related_name="changes", verbose_name="CIs"
    )
    implementation_plan = models.TextField("implementation plan", blank=True)
    backout_plan = models.TextField("backout plan", blank=True)
    change_type = models.CharField(
        "change type", max_length=10, choices=ChangeType.choices, default=ChangeType.NORMAL
    )
    category = models.CharField(
        "category", max_length=30, choices=ChangeCategory.choices, default=ChangeCategory.OTHER
    )
    reason = models.CharField(
        "reason", max_length=30, choices=ChangeReason.choices, default=ChangeReason.OTHER
    )
    priority = models.CharField(
        "priority", max_length=10, choices=ChangePriority.choices, default=ChangePriority.ROUTINE
    )
    estimated_hours = models.DecimalField(
        "estimated hours", max_digits=7, decimal_places=2, null=True, blank=True
    )
    resources = models.TextField("resources", blank=True)
    risk_score = models.PositiveSmallIntegerField("risk score", default=0)
    risk = models.CharField("risk", max_length=10, choices=RiskLevel.choices, default=RiskLevel.LOW)
    risk_reasons = models.JSONField("risk reasons", default=list, blank=True)
    status = models.CharField(
        "status", max_length=20, choices=ChangeStatus.choices, default=ChangeStatus.DRAFT
    )
    planned_start = models.DateTimeField("planned start", null=True, blank=True)
    planned_end = models.DateTimeField("planned end", null=True, blank=True)
    technical_assessment = models.TextField("technical assessment", blank=True)
    template = models.ForeignKey(
        StandardChangeTemplate,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="changes",
    )
    # Approval: where the rule sent it, and the voting round (a resubmission starts a new one).
    approver = models.CharField("approved by", max_length=10, choices=BodyKind.choices, blank=True)
    approval_body = models.ForeignKey(
        ApprovalBody, on_delete=models.PROTECT, null=True, blank=True, related_name="changes"
    )
    approval_rule = models.ForeignKey(
        ApprovalRule, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    vote_round = models.PositiveSmallIntegerField("voting round", default=1)
    implementer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="changes_to_implement",
    )
    blackout_override_reason = models.TextField("blackout override reason", blank=True)
    # Post-implementation review.
    outcome = models.CharField("outcome", max_length=12, choices=ReviewOutcome.choices, blank=True)
    review_notes = models.TextField("review notes", blank=True)
    caused_incidents = models.ManyToManyField(
        Incident, blank=True, related_name="caused_by_changes", verbose_name="caused incidents"
    )
    submitted_at = models.DateTimeField("submitted", null=True, blank=True)
    decided_at = models.DateTimeField("decided", null=True, blank=True)
    implemented_at = models.DateTimeField("implemented", null=True, blank=True)
    closed_at = models.DateTimeField("closed", null=True, blank=True)
    impact_computed_at = models.DateTimeField("impact computed", null=True, blank=True)
    version = models.PositiveIntegerField(
        "version", default=1, help_text="Optimistic concurrency counter."
    )
    created = models.DateTimeField("created", auto_now_add=True)
    updated = models.DateTimeField("updated", auto_now=True)

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name = "change (RFC)"
        permissions = [
            ("vote_change", "Can vote on RFCs (CAB member)"),
            ("manage_change", "Can manage any RFC: decide, schedule, implement, review, close"),
            ("implement_change", "Can record an RFC as implemented and review it"),
            ("override_blackout", "Can schedule a change inside a blackout period"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ChangeStatus.values), name="changes_change_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(planned_start__isnull=True)
                | Q(planned_end__isnull=True)
                | Q(planned_end__gt=F("planned_start")),
                name="changes_change_window_order",
                violation_error_message="The planned end must be after the planned start.",
            ),
            models.CheckConstraint(
                condition=Q(outcome="") | Q(outcome__in=[o.value for o in ReviewOutcome]),
                name="changes_change_outcome_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "planned_start"], name="changes_status_start"),
            models.Index(fields=["planned_start", "planned_end"], name="changes_window"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("changes:change-detail", args=[self.pk])


class ChangeImpact(models.Model):
    """One CI an RFC ripples to (its own CIs at depth 0), as computed at submit or refresh."""

    change = models.ForeignKey(Change, on_delete=models.CASCADE, related_name="impact")
    ci = models.ForeignKey(ConfigurationItem, on_delete=models.CASCADE, related_name="+")
    depth = models.PositiveSmallIntegerField("depth", default=0)
    business_service = models.BooleanField("business service", default=False)

    class Meta:
        ordering = ["depth", "ci_id"]
        constraints = [
            models.UniqueConstraint(fields=["change", "ci"], name="changes_impact_unique")
        ]
        indexes = [models.Index(fields=["ci", "change"], name="changes_impact_ci")]

    def __str__(self) -> str:
        return f"{self.change_id} → {self.ci_id} (depth {self.depth})"


class ChangeAttachment(models.Model):
    """A file attached to an RFC, kept in Django's storage."""

    change = models.ForeignKey(Change, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField("file", upload_to="changes/%Y/%m/")
    name = models.CharField("name", max_length=200)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    uploaded = models.DateTimeField("uploaded", auto_now_add=True)

    class Meta:
        ordering = ["uploaded", "id"]

    def __str__(self) -> str:
        return self.name


class Vote(models.Model):
    """One approver's decision on an RFC in one voting round, with their comment."""

    change = models.ForeignKey(Change, on_delete=models.CASCADE, related_name="votes")
    voter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="change_votes"
    )
    round = models.PositiveSmallIntegerField("round", default=1)
    decision = models.CharField("decision", max_length=10, choices=VoteDecision.choices)
    comment = models.TextField("comment", blank=True)
    at = models.DateTimeField("at")

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["change", "voter", "round"], name="changes_vote_once_per_round"
            ),
            models.CheckConstraint(
                condition=Q(decision__in=VoteDecision.values), name="changes_vote_decision_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.voter} {self.decision} {self.change_id}"


class CabMeeting(models.Model):
    """A meeting of an approval body: its agenda of RFCs awaiting a decision, and minutes."""

    body = models.ForeignKey(ApprovalBody, on_delete=models.PROTECT, related_name="meetings")
    title = models.CharField("title", max_length=200)
    start = models.DateTimeField("start")
    end = models.DateTimeField("end", null=True, blank=True)
    location = models.CharField("location", max_length=200, blank=True)
    status = models.CharField(
        "status", max_length=10, choices=MeetingStatus.choices, default=MeetingStatus.PLANNED
    )
    minutes = models.TextField("minutes", blank=True)
    agenda = models.ManyToManyField(Change, through="CabAgendaItem", related_name="meetings")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        ordering = ["-start", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end__isnull=True) | Q(end__gt=F("start")),
                name="changes_meeting_window_order",
            ),
            models.CheckConstraint(
                condition=Q(status__in=MeetingStatus.values), name="changes_meeting_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.title


class CabAgendaItem(models.Model):
    """An RFC on a meeting's agenda and what the meeting decided about it."""

    meeting = models.ForeignKey(CabMeeting, on_delete=models.CASCADE, related_name="items")
    change = models.ForeignKey(Change, on_delete=models.CASCADE, related_name="agenda_items")
    position = models.PositiveSmallIntegerField("position", default=0)
    decision = models.CharField("decision", max_length=20, blank=True)
    notes = models.TextField("notes", blank=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["meeting", "change"], name="changes_agenda_unique")
        ]

    def __str__(self) -> str:
        return f"{self.meeting_id}: {self.change_id}"


class Blackout(models.Model):
    """A period in which no change may be made (except with an override reason and the
    override permission). Without CI types or CIs it applies to everything; otherwise only to
    changes touching those."""

    name = models.CharField("name", max_length=200)
    start = models.DateTimeField("start")
    end = models.DateTimeField("end")
    reason = models.TextField("reason", blank=True)
    ci_types = models.ManyToManyField(CIType, blank=True, related_name="+", verbose_name="CI types")
    cis = models.ManyToManyField(
        ConfigurationItem, blank=True, related_name="+", verbose_name="CIs"
    )

    class Meta:
        ordering = ["start", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gt=F("start")),
                name="changes_blackout_window_order",
                violation_error_message="The end must be after the start.",
            )
        ]
        indexes = [models.Index(fields=["start", "end"], name="changes_blackout_window")]

    def __str__(self) -> str:
        return self.name
