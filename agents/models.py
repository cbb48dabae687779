"""Tables of agent enrolment, the durable report inbox, events, discrepancies and the
security log. Workflows live in services.py."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from cmdb.models import ConfigurationItem

from .choices import (
    AgentStatus,
    DiscrepancyKind,
    DiscrepancyStatus,
    EventSeverity,
    RejectionReason,
    ReportStatus,
)


class AgentGroup(models.Model):
    """A group of agents sharing a collection policy: what to collect and how often."""

    name = models.CharField("name", max_length=100, unique=True)
    description = models.TextField("description", blank=True)
    interval_seconds = models.PositiveIntegerField("report interval (s)", default=3600)
    collect_hardware = models.BooleanField("collect hardware", default=True)
    collect_software = models.BooleanField("collect software", default=True)
    collect_storage = models.BooleanField("collect storage", default=True)
    collect_security = models.BooleanField("collect security settings", default=True)
    collect_events = models.BooleanField("collect events", default=True)
    stale_after_missed = models.PositiveSmallIntegerField(
        "stale after missed reports",
        default=3,
        help_text="A managed CI is stale after this many missed intervals.",
    )
    default_ci_type = models.ForeignKey(
        "cmdb.CIType",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Class of the CIs created for new computers of this group (guessed when empty).",
    )
    raise_incidents = models.BooleanField(
        "raise incidents",
        default=False,
        help_text="Open an incident automatically for each new discrepancy.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def as_policy(self) -> dict:
        """The policy document an agent fetches with a signed GET."""
        return {
            "group": self.name,
            "interval_seconds": self.interval_seconds,
            "collect": {
                "hardware": self.collect_hardware,
                "software": self.collect_software,
                "storage": self.collect_storage,
                "security": self.collect_security,
                "events": self.collect_events,
            },
        }


class EnrollmentToken(models.Model):
    """A one-time secret an agent enrols with. Only its SHA-256 is stored."""

    token_hash = models.CharField("token hash", max_length=64, unique=True)
    prefix = models.CharField(
        "prefix", max_length=12, help_text="First characters, to recognise the token."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created = models.DateTimeField("created", auto_now_add=True)
    expires = models.DateTimeField("expires")
    auto_approve = models.BooleanField("approve automatically", default=False)
    group = models.ForeignKey(
        AgentGroup, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    note = models.CharField("note", max_length=200, blank=True)
    used_at = models.DateTimeField("used", null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.prefix}… (expires {self.expires:%Y-%m-%d %H:%M})"


class Agent(models.Model):
    """An enrolled agent: an Ed25519 public key under a key id, bound to the machine it reports."""

    key_id = models.CharField("key id", max_length=64, unique=True)
    name = models.CharField("name", max_length=255)
    public_key = models.CharField(
        "public key", max_length=64, help_text="Raw 32-byte Ed25519 key, base64."
    )
    status = models.CharField(
        "status", max_length=10, choices=AgentStatus.choices, default=AgentStatus.PENDING
    )
    group = models.ForeignKey(
        AgentGroup, on_delete=models.PROTECT, null=True, blank=True, related_name="agents"
    )
    ci = models.ForeignKey(
        ConfigurationItem, on_delete=models.SET_NULL, null=True, blank=True, related_name="agents"
    )
    is_collector = models.BooleanField(
        "network collector",
        default=False,
        help_text="May report other devices (SNMP network inventory); its key is not bound to one machine.",
    )
    enrolled_at = models.DateTimeField("enrolled", auto_now_add=True)
    enrolled_from = models.GenericIPAddressField("enrolled from", null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField("approved", null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField("revoked", null=True, blank=True)
    key_rotated_at = models.DateTimeField("key rotated", null=True, blank=True)
    last_seen = models.DateTimeField("last contact", null=True, blank=True)
    last_report_at = models.DateTimeField("last report", null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]
        permissions = [
            ("enroll_agent", "Can create enrolment tokens and approve agents"),
            ("revoke_agent", "Can revoke agent keys"),
            ("bind_agent", "Can approve or refuse binding an agent key to a CI"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=AgentStatus.values), name="agents_agent_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_id})"


class Nonce(models.Model):
    """A signature nonce seen from a key within the signature window: a second use is a replay."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="+")
    nonce = models.CharField("nonce", max_length=128)
    created = models.DateTimeField("seen", auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agent", "nonce"], name="agents_nonce_unique")
        ]

    def __str__(self) -> str:
        return f"{self.agent_id}:{self.nonce}"


class InventoryReport(models.Model):
    """The durable inbox: a raw signed report, stored before the 202, processed by a task."""

    agent = models.ForeignKey(Agent, on_delete=models.PROTECT, related_name="reports")
    received_at = models.DateTimeField("received", auto_now_add=True)
    body = models.BinaryField("raw body")
    sha256 = models.CharField("SHA-256", max_length=64)
    size = models.PositiveIntegerField("size (bytes)")
    format = models.CharField("format", max_length=40)
    collected_at = models.DateTimeField("collected", null=True, blank=True)
    status = models.CharField(
        "status", max_length=12, choices=ReportStatus.choices, default=ReportStatus.RECEIVED
    )
    attempts = models.PositiveSmallIntegerField("attempts", default=0)
    processed_at = models.DateTimeField("processed", null=True, blank=True)
    ci = models.ForeignKey(
        ConfigurationItem,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="inventory_reports",
    )
    summary = models.JSONField("summary", default=dict, blank=True)
    error = models.TextField("error", blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ReportStatus.values), name="agents_report_status_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "received_at"], name="agents_report_status"),
            models.Index(fields=["ci", "-received_at"], name="agents_report_ci"),
            models.Index(fields=["agent", "-received_at"], name="agents_report_agent"),
            # Tiny: only reports still waiting, to ask "does this agent have one in flight?"
            models.Index(
                fields=["agent"],
                condition=models.Q(status__in=["received", "failed"]),
                name="agents_report_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"report {self.pk} from {self.agent_id} ({self.status})"


class InventoryState(models.Model):
    """What the last applied report said, per section, so an unchanged report costs nothing."""

    ci = models.OneToOneField(
        ConfigurationItem, on_delete=models.CASCADE, related_name="inventory_state"
    )
    section_hashes = models.JSONField("section hashes", default=dict)
    last_report = models.ForeignKey(
        InventoryReport, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    last_report_at = models.DateTimeField("last report", null=True, blank=True)
    security = models.JSONField("security settings", default=dict, blank=True)
    device_id = models.CharField("agent device id", max_length=255, blank=True)
    content_digest = models.CharField(
        "content digest",
        max_length=64,
        blank=True,
        help_text="Of the last applied report, without its timestamps.",
    )
    ci_version = models.PositiveIntegerField("CI version after it", null=True, blank=True)

    def __str__(self) -> str:
        return f"inventory state of CI {self.ci_id}"


class CIEvent(models.Model):
    """A significant event a machine reported (failed logins, disk nearly full…)."""

    ci = models.ForeignKey(ConfigurationItem, on_delete=models.CASCADE, related_name="agent_events")
    report = models.ForeignKey(
        InventoryReport, on_delete=models.SET_NULL, null=True, related_name="events"
    )
    at = models.DateTimeField("at")
    kind = models.CharField("kind", max_length=50)
    severity = models.CharField(
        "severity", max_length=10, choices=EventSeverity.choices, default=EventSeverity.INFO
    )
    detail = models.TextField("detail", blank=True)
    fingerprint = models.CharField("fingerprint", max_length=64)

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["ci", "fingerprint"], name="agents_event_unique")
        ]
        indexes = [models.Index(fields=["ci", "kind", "-at"], name="agents_event_ci_kind")]

    def __str__(self) -> str:
        return f"{self.ci}: {self.kind} at {self.at:%Y-%m-%d %H:%M}"


class Discrepancy(models.Model):
    """A difference between what the CMDB says and what the machine says (verification and audit)."""

    ci = models.ForeignKey(
        ConfigurationItem, on_delete=models.CASCADE, related_name="discrepancies"
    )
    kind = models.CharField("kind", max_length=30, choices=DiscrepancyKind.choices)
    key = models.CharField(
        "key", max_length=255, blank=True, help_text="What it is about, e.g. the product."
    )
    message = models.TextField("message")
    detail = models.JSONField("detail", default=dict, blank=True)
    status = models.CharField(
        "status", max_length=10, choices=DiscrepancyStatus.choices, default=DiscrepancyStatus.OPEN
    )
    first_seen = models.DateTimeField("first seen", auto_now_add=True)
    last_seen = models.DateTimeField("last seen")
    report = models.ForeignKey(
        InventoryReport, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField("resolved", null=True, blank=True)
    resolution = models.TextField("resolution", blank=True)
    incident = models.ForeignKey(
        "incidents.Incident",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="discrepancies",
    )

    class Meta:
        verbose_name_plural = "discrepancies"
        ordering = ["-last_seen", "-id"]
        permissions = [("resolve_discrepancy", "Can resolve or accept discrepancies")]
        constraints = [
            models.UniqueConstraint(
                fields=["ci", "kind", "key"],
                condition=Q(status=DiscrepancyStatus.OPEN),
                name="agents_discrepancy_open_unique",
            ),
            models.CheckConstraint(
                condition=Q(status__in=DiscrepancyStatus.values),
                name="agents_discrepancy_status_valid",
            ),
        ]
        indexes = [models.Index(fields=["status", "kind"], name="agents_discrepancy_status")]

    def __str__(self) -> str:
        return f"{self.ci}: {self.get_kind_display()}"


class SecurityEvent(models.Model):
    """The security log of refused agent requests (rate-limited: bursts are counted, not stored)."""

    at = models.DateTimeField("at", auto_now_add=True, db_index=True)
    reason = models.CharField("reason", max_length=30, choices=RejectionReason.choices)
    key_id = models.CharField("key id", max_length=64, blank=True)
    remote_addr = models.GenericIPAddressField("address", null=True, blank=True)
    path = models.CharField("path", max_length=200)
    status_code = models.PositiveSmallIntegerField("answered")
    detail = models.CharField("detail", max_length=500, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.reason} {self.key_id or self.remote_addr}"
