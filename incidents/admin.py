from django.contrib import admin

from .models import Incident


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = ["number", "title", "severity", "priority", "status", "source", "created"]
    list_filter = ["status", "severity", "source"]
    search_fields = ["number", "title"]
    filter_horizontal = ["cis"]
    readonly_fields = ["number", "created", "updated"]
