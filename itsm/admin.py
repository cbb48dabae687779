"""Admin of the core app: API tokens (read-only hash; revoke by deleting)."""

from __future__ import annotations

from django.contrib import admin

from .models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are created in "My API tokens" or with `manage.py drf_create_token` (the key is
    shown once there); here they can be looked at, renamed, given an expiry and revoked."""

    list_display = ["name", "user", "prefix", "created", "expires", "last_used"]
    list_filter = ["created", "expires"]
    search_fields = ["name", "prefix", "user__username"]
    list_select_related = ["user"]
    readonly_fields = ["user", "prefix", "key_hash", "created", "last_used"]
    fields = ["user", "name", "prefix", "key_hash", "created", "expires", "last_used"]
    raw_id_fields = ["user"]

    def has_add_permission(self, request) -> bool:
        return False
