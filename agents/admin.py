"""Django admin for the agents app. Keys, the inbox and the security log are read-only here:
enrolment, approval and revocation go through the services (web UI, API, manage.py)."""

from django.contrib import admin

from itsm.admin import AuditedAdmin

from .models import (
    Agent,
    AgentGroup,
    CIEvent,
    Discrepancy,
    EnrollmentToken,
    InventoryReport,
    InventoryState,
    Nonce,
    SecurityEvent,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # the security log, reports and events are an audit trail


@admin.register(AgentGroup)
class AgentGroupAdmin(AuditedAdmin):  # collection policies: changes recorded
    list_display = [
        "name",
        "interval_seconds",
        "stale_after_missed",
        "default_ci_type",
        "raise_incidents",
    ]


@admin.register(Agent)
class AgentAdmin(ReadOnlyAdmin):
    list_display = ["name", "key_id", "status", "group", "ci", "last_seen", "last_report_at"]
    list_filter = ["status", "group", "is_collector"]
    search_fields = ["name", "key_id"]
    raw_id_fields = ["ci"]


@admin.register(EnrollmentToken)
class EnrollmentTokenAdmin(ReadOnlyAdmin):
    list_display = ["prefix", "created_by", "created", "expires", "auto_approve", "used_at"]
    exclude = ["token_hash"]


@admin.register(InventoryReport)
class InventoryReportAdmin(ReadOnlyAdmin):
    list_display = ["id", "agent", "received_at", "format", "size", "status", "ci"]
    list_filter = ["status", "format"]
    raw_id_fields = ["agent", "ci"]
    exclude = ["body"]


@admin.register(InventoryState)
class InventoryStateAdmin(ReadOnlyAdmin):
    list_display = ["ci", "last_report_at", "device_id"]
    raw_id_fields = ["ci", "last_report"]


@admin.register(CIEvent)
class CIEventAdmin(ReadOnlyAdmin):
    list_display = ["ci", "at", "kind", "severity"]
    list_filter = ["kind", "severity"]
    raw_id_fields = ["ci", "report"]


@admin.register(Discrepancy)
class DiscrepancyAdmin(ReadOnlyAdmin):
    list_display = ["ci", "kind", "key", "status", "first_seen", "last_seen"]
    list_filter = ["kind", "status"]
    raw_id_fields = ["ci", "report", "incident"]


@admin.register(SecurityEvent)
class SecurityEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "reason", "status_code", "key_id", "remote_addr", "path"]
    list_filter = ["reason", "status_code"]


@admin.register(Nonce)
class NonceAdmin(ReadOnlyAdmin):
    """Nonces seen within the signature window (replay protection); purged periodically."""

    list_display = ["agent", "nonce", "created"]
    raw_id_fields = ["agent"]
