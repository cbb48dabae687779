"""Django admin of change management: approval rules and bodies (audited), the standard-change
catalogue and blackouts (through their services), RFCs, votes and meetings read-only (they move
through the workflow services, in the UI and the API)."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied

from itsm.admin import AuditedAdmin
from itsm.audit import ChangeContext
from itsm.choices import ChangeSource
from itsm.exceptions import ApplicationError, PermissionDeniedError

from . import services
from .catalogue_services import BLACKOUT_FIELDS, TEMPLATE_FIELDS
from .models import (
    ApprovalBody,
    ApprovalRule,
    Blackout,
    CabAgendaItem,
    CabMeeting,
    Change,
    StandardChangeTemplate,
    Vote,
)


def admin_context(request) -> ChangeContext:
    return ChangeContext(actor=request.user, source=ChangeSource.ADMIN)


class _ServiceCall:
    """A service's refusal becomes the admin's 403."""

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if isinstance(exc, PermissionDeniedError):
            raise PermissionDenied(str(exc)) from exc
        if isinstance(exc, ApplicationError):
            raise PermissionDenied(exc.message) from exc
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ApprovalRule)
class ApprovalRuleAdmin(AuditedAdmin):
    list_display = ["order", "name", "change_type", "priority", "min_risk", "max_risk",
                    "approver", "body", "active"]  # fmt: skip
    list_display_links = ["name"]
    list_filter = ["change_type", "approver", "active"]
    ordering = ["order", "id"]


@admin.register(ApprovalBody)
class ApprovalBodyAdmin(AuditedAdmin):
    list_display = ["name", "kind", "group", "quorum", "majority"]
    filter_horizontal = ["members", "business_members", "technical_members"]


@admin.register(StandardChangeTemplate)
class StandardChangeTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "category", "estimated_hours", "active", "updated"]
    list_filter = ["active", "category"]
    search_fields = ["name", "description"]

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data[name] for name in TEMPLATE_FIELDS
                if name in form.cleaned_data and (not change or name in form.changed_data)}  # fmt: skip
        with _ServiceCall():
            if change:
                saved = services.template_update(
                    context=admin_context(request), template=obj, data=data
                )
            else:
                saved = services.template_create(context=admin_context(request), data=data)
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        with _ServiceCall():
            services.template_delete(context=admin_context(request), template=obj)


@admin.register(Blackout)
class BlackoutAdmin(admin.ModelAdmin):
    list_display = ["name", "start", "end"]
    search_fields = ["name", "reason"]
    filter_horizontal = ["ci_types"]
    raw_id_fields = ["cis"]

    def save_model(self, request, obj, form, change):
        data = {
            name: form.cleaned_data[name] for name in BLACKOUT_FIELDS if name in form.cleaned_data
        }
        with _ServiceCall():
            if change:
                saved = services.blackout_update(
                    context=admin_context(request),
                    blackout=obj,
                    data=data,
                    ci_types=form.cleaned_data.get("ci_types"),
                    cis=form.cleaned_data.get("cis"),
                )
            else:
                saved = services.blackout_create(
                    context=admin_context(request),
                    data=data,
                    ci_types=form.cleaned_data.get("ci_types"),
                    cis=form.cleaned_data.get("cis"),
                )
        obj.pk = saved.pk

    def save_related(self, request, form, formsets, change):
        """The scope was saved by the service."""

    def delete_model(self, request, obj):
        with _ServiceCall():
            services.blackout_delete(context=admin_context(request), blackout=obj)


class VoteInline(admin.TabularInline):
    model = Vote
    extra = 0
    can_delete = False
    readonly_fields = ["voter", "round", "decision", "comment", "at"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Change)
class ChangeAdmin(ReadOnlyAdmin):
    list_display = ["number", "title", "change_type", "priority", "risk", "status",
                    "planned_start", "originator"]  # fmt: skip
    list_filter = ["status", "change_type", "priority", "risk"]
    search_fields = ["number", "title"]
    list_select_related = ["originator"]
    inlines = [VoteInline]


class AgendaInline(admin.TabularInline):
    model = CabAgendaItem
    extra = 0
    readonly_fields = ["change", "position", "decision", "notes"]


@admin.register(CabMeeting)
class CabMeetingAdmin(ReadOnlyAdmin):
    list_display = ["title", "body", "start", "status"]
    inlines = [AgendaInline]
