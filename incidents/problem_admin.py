"""Django admin of problem management: read-only (problems and known errors are written
through `incidents.problem_services`, from the web UI or the API; the trend summary by its
refresh task). Registered from `problem_apps.ready()`."""

from __future__ import annotations

from django.contrib import admin

from .models import IncidentDailyCount, KnownError, Problem, TrendWatermark


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ProblemAdmin(ReadOnlyAdmin):
    list_display = ["number", "title", "status", "priority", "owner", "created"]
    list_filter = ["status", "priority"]
    search_fields = ["number", "title", "root_cause"]
    raw_id_fields = ["incidents"]


class KnownErrorAdmin(ReadOnlyAdmin):
    list_display = ["title", "category", "published", "updated"]
    list_filter = ["published"]
    search_fields = ["title", "symptoms", "workaround"]
    exclude = ["search_vector"]


class IncidentDailyCountAdmin(ReadOnlyAdmin):
    list_display = ["day", "dimension", "value", "count"]
    list_filter = ["dimension"]
    date_hierarchy = "day"


def register(site: admin.AdminSite = admin.site) -> None:
    for model, model_admin in (
        (Problem, ProblemAdmin),
        (KnownError, KnownErrorAdmin),
        (IncidentDailyCount, IncidentDailyCountAdmin),
        (TrendWatermark, ReadOnlyAdmin),
    ):
        if not site.is_registered(model):
            site.register(model, model_admin)
