"""Django admin for every CMDB model. CI edits made here are recorded in history too."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from . import history, services
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


def _admin_context(request) -> history.ChangeContext:
    return history.ChangeContext(actor=request.user, source=ChangeSource.USER, reason="admin")


class CITypeAdminForm(forms.ModelForm):
    """The model's clean() checks the schema; this also names CIs a new schema would refuse."""

    class Meta:
        model = CIType
        fields = ["name", "slug", "description", "attribute_schema", "is_hardware"]

    def clean(self):
        cleaned = super().clean()
        schema = cleaned.get("attribute_schema")
        if self.instance.pk and "attribute_schema" in self.changed_data and schema is not None:
            try:
                services.validate_attribute_schema(schema)
            except ValidationError as exc:
                self.add_error(None, exc)
                return cleaned
            candidate = CIType(pk=self.instance.pk, attribute_schema=schema)
            problems = services.ci_type_schema_problems(candidate)
            if problems:
                self.add_error("attribute_schema", problems)
        return cleaned


class ServiceWrittenTypeAdmin(admin.ModelAdmin):
    """Type admins that write through the services (history, re-validation, in-use checks)."""

    fields_written: tuple[str, ...] = ()

    def save_model(self, request, obj, form, change):
        context = _admin_context(request)
        data = {f: form.cleaned_data[f] for f in self.fields_written if f in form.cleaned_data}
        saved = self.service_save(context, obj, data, change)
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        self.service_delete(_admin_context(request), obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.service_delete(_admin_context(request), obj)


@admin.register(CIType)
class CITypeAdmin(ServiceWrittenTypeAdmin):
    form = CITypeAdminForm
    list_display = ["name", "slug", "is_hardware", "builtin_key"]
    readonly_fields = ["builtin_key"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name"]
    fields_written = services.CI_TYPE_FIELDS

    def service_save(self, context, obj, data, change):
        if change:
            return services.ci_type_update(context=context, ci_type_id=obj.pk, data=data)
        return services.ci_type_create(
            context=context, name=data.pop("name"), slug=data.pop("slug"), **data
        )

    def service_delete(self, context, obj):
        services.ci_type_delete(context=context, ci_type_id=obj.pk)


@admin.register(RelationshipType)
class RelationshipTypeAdmin(ServiceWrittenTypeAdmin):
    list_display = ["name", "slug", "forward_label", "reverse_label"]
    prepopulated_fields = {"slug": ["name"]}
    fields_written = services.RELATIONSHIP_TYPE_FIELDS

    def service_save(self, context, obj, data, change):
        if change:
            return services.relationship_type_update(
                context=context, relationship_type_id=obj.pk, data=data
            )
        return services.relationship_type_create(
            context=context, name=data.pop("name"), slug=data.pop("slug"), **data
        )

    def service_delete(self, context, obj):
        services.relationship_type_delete(context=context, relationship_type_id=obj.pk)


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


admin.site.register(Site)
admin.site.register(Department)
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
