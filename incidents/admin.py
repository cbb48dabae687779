"""Django admin of the service desk: SLA configuration (calendars, policies, escalation rules)
and quick-log templates are edited here, recorded in the audit log; incidents, their work log
and fired escalations are read-only (they change through the services: web UI and API)."""

from django.contrib import admin

from itsm.admin import AuditedAdmin

from .models import (
    BusinessCalendar,
    CalendarHoliday,
    EscalationFired,
    EscalationRule,
    Incident,
    QuickLogTemplate,
    SlaPolicy,
    WorkingHours,
    WorkLogEntry,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Incident)
class IncidentAdmin(ReadOnlyAdmin):
    list_display = ["number", "title", "severity", "priority", "status", "source", "created"]
    list_filter = ["status", "severity", "source", "sla_breached"]
    search_fields = ["number", "title"]
    list_select_related = True


class WorkingHoursInline(admin.TabularInline):
    model = WorkingHours
    extra = 0


class CalendarHolidayInline(admin.TabularInline):
    model = CalendarHoliday
    extra = 0


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(AuditedAdmin):
    list_display = ["name", "time_zone", "country", "subdivision"]
    inlines = [WorkingHoursInline, CalendarHolidayInline]


@admin.register(SlaPolicy)
class SlaPolicyAdmin(AuditedAdmin):
    list_display = [
        "name",
        "priority",
        "ci_type",
        "department",
        "calendar",
        "response_minutes",
        "resolution_minutes",
    ]
    list_filter = ["priority", "calendar"]


@admin.register(EscalationRule)
class EscalationRuleAdmin(AuditedAdmin):
    list_display = ["name", "active", "priority", "target", "threshold_percent", "raise_priority"]
    list_filter = ["active", "target"]
    filter_horizontal = ["notify_users"]


@admin.register(EscalationFired)
class EscalationFiredAdmin(ReadOnlyAdmin):
    list_display = ["incident", "rule", "cycle", "at"]
    list_select_related = True


@admin.register(QuickLogTemplate)
class QuickLogTemplateAdmin(AuditedAdmin):
    list_display = ["name", "title", "category", "resolution_method", "active", "position"]


@admin.register(WorkLogEntry)
class WorkLogEntryAdmin(ReadOnlyAdmin):
    list_display = ["incident", "author_name", "visibility", "minutes", "created"]
    list_filter = ["visibility"]
    list_select_related = ["incident"]


@admin.register(WorkingHours)
class WorkingHoursAdmin(AuditedAdmin):
    list_display = ["calendar", "weekday", "start", "end"]
    list_filter = ["calendar"]


@admin.register(CalendarHoliday)
class CalendarHolidayAdmin(AuditedAdmin):
    list_display = ["calendar", "date", "name"]
    list_filter = ["calendar"]
