"""Django admin for release management: read-only. Releases, the library, packages and
deployments are written through the services (API, web UI), which check the workflow and
record the audit log; the deployment state moves only through the engine."""

from django.contrib import admin

from .models import (
    Deployment,
    DeploymentEvent,
    DeploymentStep,
    DeploymentTarget,
    DeploymentWave,
    PackageStep,
    ReadinessReview,
    Release,
    ReleasePackage,
    SoftwareArtifact,
    TestResult,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Release)
class ReleaseAdmin(ReadOnlyAdmin):
    list_display = ["number", "title", "release_type", "priority", "status", "created"]
    list_filter = ["status", "release_type", "priority"]
    search_fields = ["number", "title"]


@admin.register(SoftwareArtifact)
class SoftwareArtifactAdmin(ReadOnlyAdmin):
    """Never edited in place: a new version is a new artifact (API or web form)."""

    list_display = ["name", "version", "author", "licence", "sha256", "size", "created"]
    search_fields = ["name", "version", "sha256"]


class PackageStepInline(admin.TabularInline):
    model = PackageStep
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ReleasePackage)
class ReleasePackageAdmin(ReadOnlyAdmin):
    list_display = ["name", "version", "created"]
    inlines = [PackageStepInline]


@admin.register(Deployment)
class DeploymentAdmin(ReadOnlyAdmin):
    list_display = ["id", "release", "executor", "status", "created", "finished_at"]
    list_filter = ["status", "executor"]


@admin.register(DeploymentWave)
class DeploymentWaveAdmin(ReadOnlyAdmin):
    list_display = ["id", "deployment", "order", "name", "status", "gate"]


@admin.register(DeploymentTarget)
class DeploymentTargetAdmin(ReadOnlyAdmin):
    list_display = ["id", "deployment", "wave", "ci", "state"]
    list_filter = ["state"]
    raw_id_fields = ["ci"]


@admin.register(DeploymentStep)
class DeploymentStepAdmin(ReadOnlyAdmin):
    list_display = ["id", "deployment", "target", "order", "name", "state", "attempt"]
    list_filter = ["state", "phase"]


@admin.register(DeploymentEvent)
class DeploymentEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "deployment", "object_type", "object_id", "from_state", "to_state"]


admin.site.register(TestResult, ReadOnlyAdmin)
admin.site.register(ReadinessReview, ReadOnlyAdmin)
