"""Admin page of the users' saved queue filters (read-only: users write them from the queue).
Registered from `incidents.extensions.register()`, beside the incident admin of `admin.py`."""

from __future__ import annotations

from django.contrib import admin

from .models import SavedFilter


class SavedFilterAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "query", "created")
    search_fields = ("name", "owner__username")
    list_select_related = ("owner",)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def register() -> None:
    """Register the admin page once."""
    if not admin.site.is_registered(SavedFilter):
        admin.site.register(SavedFilter, SavedFilterAdmin)
