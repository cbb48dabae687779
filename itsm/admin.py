"""Django admin of the shared core: the audit log, read-only (nobody can forge it here)."""

from django.contrib import admin

from .models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Every recorded change of every app, viewable only: entries are written by services."""

    list_display = [
        "at",
        "content_type",
        "object_repr",
        "kind",
        "actor_name",
        "source",
        "source_ref",
    ]
    list_filter = ["content_type", "kind", "source"]
    search_fields = ["object_repr", "actor_name", "source_ref", "request_id"]
    list_select_related = ["content_type"]
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
