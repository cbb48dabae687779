"""Django admin of the shared core: the audit log, read-only (nobody can forge it here), and
`AuditedAdmin` for reference tables without a service of their own, and API tokens (read-only
hash; revoke by deleting)."""

import json
from typing import Any

from django.contrib import admin
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction

from .audit import ChangeContext, record
from .choices import ChangeSource
from .models import ApiToken, AuditEntry


def _json(value: Any) -> Any:
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, models.QuerySet | list | tuple | set):
        return sorted(_json(v) for v in value)
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


class AuditedAdmin(admin.ModelAdmin):
    """An admin whose saves and deletes are recorded in the audit log (source "admin").

    For reference tables that have no service yet (sites, departments, field owners,
    collection policies); tables with services call them from `save_model` instead.
    """

    def save_model(self, request, obj, form, change):
        changes = {
            name: {"old": _json(form.initial.get(name)) if change else None,
                   "new": _json(form.cleaned_data.get(name))}
            for name in form.changed_data
        }  # fmt: skip
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            context = ChangeContext(actor=request.user, source=ChangeSource.ADMIN)
            record(
                obj=obj, kind="updated" if change else "created", changes=changes, context=context
            )

    def delete_model(self, request, obj):
        with transaction.atomic():
            context = ChangeContext(actor=request.user, source=ChangeSource.ADMIN)
            record(obj=obj, kind="deleted", changes={}, context=context)
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


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
