"""Django admin for the CMDB. Audit tables are read-only; writes of CIs, their roles and
relationships go through the services (permission checks, validation, history with source
"admin"); inventory tables that agents and services own are read-only."""

from django import forms
from django.contrib import admin
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied, ValidationError
from import_export.admin import ExportMixin, ImportExportModelAdmin

from itsm.admin import AuditedAdmin
from itsm.choices import ChangeSource
from itsm.exceptions import PermissionDeniedError

from . import resources, services
from .history import ChangeContext
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


def admin_context(request) -> ChangeContext:
    """The change context of a write made in the admin."""
    return ChangeContext(actor=request.user, source=ChangeSource.ADMIN)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Viewable, never added, changed or deleted here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class _ServiceCall:
    """Turn a service's refusal into the admin's 403 (anything else is a form error first)."""

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if isinstance(exc, PermissionDeniedError):
            raise PermissionDenied(str(exc)) from exc
        return False


class CIRoleInline(admin.TabularInline):
    model = CIRole
    extra = 0
    autocomplete_fields = ["user"]


class ConfigurationItemAdminForm(forms.ModelForm):
    class Meta:
        model = ConfigurationItem
        fields = [*services.EDITABLE_FIELDS]

    def clean(self):
        """Identifiers normalised as the service will (so the unique checks that follow see
        the stored values) and attributes checked against the type's schema."""
        cleaned = super().clean()
        services._normalize_identifiers(cleaned)
        ci_type = cleaned.get("ci_type")
        if ci_type is not None and "attributes" in cleaned:
            try:
                services.validate_attributes(ci_type, cleaned["attributes"])
            except ValidationError as exc:
                self.add_error(None, exc)
        return cleaned


@admin.register(ConfigurationItem)
class ConfigurationItemAdmin(admin.ModelAdmin):
    form = ConfigurationItemAdminForm
    list_display = ["name", "ci_type", "status", "hostname", "serial_number", "managed", "updated"]
    list_filter = ["ci_type", "status", "managed"]
    search_fields = ["name", "hostname", "serial_number", "asset_tag", "uuid"]
    readonly_fields = ["status", "version", "created", "updated"]
    autocomplete_fields = ["owner"]
    inlines = [CIRoleInline]
    list_select_related = ["ci_type"]

    def save_model(self, request, obj, form, change):
        """Create or update through `ci_create` / `ci_update` (validation and history)."""
        context = admin_context(request)
        fields = {
            name: form.cleaned_data[name]
            for name in services.EDITABLE_FIELDS
            if name in form.cleaned_data
        }
        with _ServiceCall():
            if change:
                data = {name: fields[name] for name in form.changed_data if name in fields}
                ci = services.ci_update(
                    context=context, ci_id=obj.pk, data=data, expected_version=None
                )
            else:
                ci = services.ci_create(
                    context=context,
                    ci_type=fields.pop("ci_type"),
                    name=fields.pop("name"),
                    **{k: v for k, v in fields.items()},
                )
        obj.pk, obj.version, obj.created, obj.updated = ci.pk, ci.version, ci.created, ci.updated

    def save_formset(self, request, form, formset, change):
        """Roles are replaced through `ci_set_roles` (one history entry)."""
        if formset.model is not CIRole:
            return super().save_formset(request, form, formset, change)
        roles = [
            (f.cleaned_data["user"], f.cleaned_data["role"])
            for f in formset.forms
            if f.cleaned_data and not f.cleaned_data.get("DELETE") and f.cleaned_data.get("user")
        ]
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        with _ServiceCall():
            services.ci_set_roles(
                context=admin_context(request), ci_id=form.instance.pk, roles=roles
            )

    def delete_model(self, request, obj):
        with _ServiceCall():
            services.ci_delete(context=admin_context(request), ci_id=obj.pk)

    def delete_queryset(self, request, queryset):
        with _ServiceCall():
            for pk in queryset.values_list("pk", flat=True):
                services.ci_delete(context=admin_context(request), ci_id=pk)


class ReferenceImportExportAdmin(ImportExportModelAdmin, AuditedAdmin):
    """Import/export of a reference table; importing needs the add and change permissions.
    Form saves and deletes are recorded by `AuditedAdmin`, imported rows by the resource."""

    def has_import_permission(self, request):
        opts = self.opts
        return all(
            request.user.has_perm(f"{opts.app_label}.{get_permission_codename(action, opts)}")
            for action in ("add", "change")
        )


class CITypeAdminForm(forms.ModelForm):
    """The model's clean() checks the schema; this also names CIs a new schema would refuse."""

    class Meta:
        model = CIType
        fields = list(services.CI_TYPE_FIELDS)

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
        data = {f: form.cleaned_data[f] for f in self.fields_written if f in form.cleaned_data}
        with _ServiceCall():
            saved = self.service_save(admin_context(request), obj, data, change)
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        with _ServiceCall():
            self.service_delete(admin_context(request), obj)

    def delete_queryset(self, request, queryset):
        with _ServiceCall():
            for obj in queryset:
                self.service_delete(admin_context(request), obj)


@admin.register(CIType)
class CITypeAdmin(ExportMixin, ServiceWrittenTypeAdmin):
    """Created, changed and deleted through the type services (schema check, re-validation of
    the type's CIs, in-use and built-in checks, audit). Export only: no import."""

    resource_classes = [resources.CITypeResource]
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
class RelationshipTypeAdmin(ServiceWrittenTypeAdmin, ReferenceImportExportAdmin):
    """Form saves and deletes through the type services; import/export as reference data."""

    resource_classes = [resources.RelationshipTypeResource]
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
    """Added and removed through the services (recorded on both CIs); never changed."""

    list_display = ["source", "type", "target", "created"]
    list_filter = ["type"]
    raw_id_fields = ["source", "target"]
    list_select_related = ["source", "target", "type"]

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        with _ServiceCall():
            created = services.relationship_create(
                context=admin_context(request),
                source=form.cleaned_data["source"],
                target=form.cleaned_data["target"],
                type=form.cleaned_data["type"],
            )
        obj.pk = created.pk

    def delete_model(self, request, obj):
        with _ServiceCall():
            services.relationship_delete(context=admin_context(request), relationship=obj)

    def delete_queryset(self, request, queryset):
        for rel in queryset.select_related("source", "target", "type"):
            self.delete_model(request, rel)


@admin.register(StatusChange)
class StatusChangeAdmin(ReadOnlyAdmin):
    """Lifecycle moves: an audit table, written only by `ci_transition`."""

    list_display = ["ci", "from_status", "to_status", "actor", "source", "at"]
    list_filter = ["to_status", "source"]
    raw_id_fields = ["ci"]


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
class InstalledSoftwareAdmin(ReadOnlyAdmin):
    """Written by `software_replace` (API, agents), which records the change."""

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


@admin.register(CIRole)
class CIRoleAdmin(ReadOnlyAdmin):
    """Roles are changed on the CI (its inline, through `ci_set_roles`), which records them."""

    list_display = ["ci", "user", "role"]
    list_filter = ["role"]
    raw_id_fields = ["ci", "user"]


@admin.register(HistoryEntry)
class HistoryEntryAdmin(ReadOnlyAdmin):
    """The CI history: the audit log's entries about CIs, append-only."""

    list_display = ["at", "object_repr", "kind", "actor_name", "source", "source_ref"]
    list_filter = ["kind", "source"]
    search_fields = ["object_repr", "actor_name", "source_ref", "request_id"]


@admin.register(NetworkInterface)
class NetworkInterfaceAdmin(ReadOnlyAdmin):
    """Reported by agents; recorded in the CI's history by reconciliation."""

    list_display = ["ci", "name", "mac"]
    search_fields = ["mac", "ci__name"]
    raw_id_fields = ["ci"]


@admin.register(StorageVolume)
class StorageVolumeAdmin(ReadOnlyAdmin):
    """Reported by agents; recorded in the CI's history by reconciliation."""

    list_display = ["ci", "mount", "filesystem", "size_mb", "used_mb"]
    raw_id_fields = ["ci"]


@admin.register(FieldOwner)
class FieldOwnerAdmin(AuditedAdmin):
    """Who owns each CI field (agents or people); every change is recorded."""

    list_display = ["field", "ci_type", "owner"]
    list_filter = ["owner", "ci_type"]
