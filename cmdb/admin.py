"""Django admin for every CMDB model. CI edits made here are recorded in history too."""

from django.contrib import admin
from django.contrib.auth import get_permission_codename
from import_export.admin import ExportMixin, ImportExportModelAdmin

from . import history, resources
from .choices import ChangeSource
from .models import (
    CIRole,
    CIType,
    ConfigurationItem,
    Department,
    FieldOwner,
    HistoryEntry,
    InstalledSoftware,
    NetworkInterface,
    Person,
    Relationship,
    RelationshipType,
    Site,
    SoftwareProduct,
    SoftwareVersion,
    StatusChange,
    StorageVolume,
)


class CIRoleInline(admin.TabularInline):
    model = CIRole
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(ConfigurationItem)
class ConfigurationItemAdmin(admin.ModelAdmin):
    list_display = ["name", "ci_type", "status", "hostname", "serial_number", "managed", "updated"]
    list_filter = ["ci_type", "status", "managed"]
    search_fields = ["name", "hostname", "serial_number", "asset_tag", "uuid"]
    readonly_fields = ["status", "version", "created", "updated"]
    autocomplete_fields = ["owner"]
    inlines = [CIRoleInline]
    list_select_related = ["ci_type"]

    def save_model(self, request, obj, form, change):
        before = history.snapshot(ConfigurationItem.objects.get(pk=obj.pk)) if change else {}
        if change:
            obj.version += 1
        super().save_model(request, obj, form, change)
        changes = history.diff(before, history.snapshot(obj))
        if changes:
            history.record_change(
                ci=obj,
                kind=HistoryEntry.Kind.UPDATED if change else HistoryEntry.Kind.CREATED,
                changes=changes,
                context=history.ChangeContext(
                    actor=request.user, source=ChangeSource.USER, reason="admin"
                ),
            )


class ReferenceImportExportAdmin(ImportExportModelAdmin):
    """Import/export of a reference table; importing needs the add and change permissions."""

    def has_import_permission(self, request):
        opts = self.opts
        return all(
            request.user.has_perm(f"{opts.app_label}.{get_permission_codename(action, opts)}")
            for action in ("add", "change")
        )


@admin.register(CIType)
class CITypeAdmin(ExportMixin, admin.ModelAdmin):
    resource_classes = [resources.CITypeResource]  # export only: writes go through services
    list_display = ["name", "slug", "is_hardware"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name"]


@admin.register(RelationshipType)
class RelationshipTypeAdmin(ReferenceImportExportAdmin):
    resource_classes = [resources.RelationshipTypeResource]
    list_display = ["name", "slug", "forward_label", "reverse_label"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Relationship)
class RelationshipAdmin(admin.ModelAdmin):
    list_display = ["source", "type", "target", "created"]
    list_filter = ["type"]
    raw_id_fields = ["source", "target"]
    list_select_related = ["source", "target", "type"]


@admin.register(HistoryEntry)
class HistoryEntryAdmin(admin.ModelAdmin):
    list_display = ["ci_name", "kind", "at", "actor_name", "source", "source_ref"]
    list_filter = ["kind", "source"]
    search_fields = ["ci_name", "actor_name", "source_ref"]
    raw_id_fields = ["ci", "actor"]

    def has_change_permission(self, request, obj=None):
        return False  # history is append-only

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(StatusChange)
class StatusChangeAdmin(admin.ModelAdmin):
    list_display = ["ci", "from_status", "to_status", "actor", "at"]
    raw_id_fields = ["ci"]

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SoftwareProduct)
class SoftwareProductAdmin(admin.ModelAdmin):
    list_display = ["name", "vendor"]
    search_fields = ["name", "vendor"]


@admin.register(SoftwareVersion)
class SoftwareVersionAdmin(admin.ModelAdmin):
    list_display = ["product", "version"]
    search_fields = ["product__name", "version"]
    raw_id_fields = ["product"]


@admin.register(InstalledSoftware)
class InstalledSoftwareAdmin(admin.ModelAdmin):
    list_display = ["ci", "software", "source", "installed_at"]
    raw_id_fields = ["ci", "software"]


@admin.register(Site)
class SiteAdmin(ReferenceImportExportAdmin):
    resource_classes = [resources.SiteResource]
    list_display = ["name", "slug", "address"]
    search_fields = ["name", "slug"]


@admin.register(Department)
class DepartmentAdmin(ReferenceImportExportAdmin):
    resource_classes = [resources.DepartmentResource]
    list_display = ["name", "site"]
    search_fields = ["name"]


admin.site.register(Person)
admin.site.register(CIRole)


@admin.register(NetworkInterface)
class NetworkInterfaceAdmin(admin.ModelAdmin):
    list_display = ["ci", "name", "mac"]
    search_fields = ["mac", "ci__name"]
    raw_id_fields = ["ci"]


@admin.register(StorageVolume)
class StorageVolumeAdmin(admin.ModelAdmin):
    list_display = ["ci", "mount", "filesystem", "size_mb", "used_mb"]
    raw_id_fields = ["ci"]


@admin.register(FieldOwner)
class FieldOwnerAdmin(admin.ModelAdmin):
    list_display = ["field", "ci_type", "owner"]
    list_filter = ["owner", "ci_type"]
