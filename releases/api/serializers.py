"""REST serializers of release management: they validate and shape; services write."""

from __future__ import annotations

from rest_framework import serializers

from ..choices import GoNoGo, ReleasePriority, ReleaseType, TestEnvironment
from ..models import (
    DeploymentTarget,
    PackageStep,
    ReadinessReview,
    Release,
    ReleasePackage,
    ReleaseTask,
    SoftwareArtifact,
    TestResult,
)


class ReleaseTaskSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReleaseTask
        fields = ["id", "title", "owner", "due", "resources", "done"]
        read_only_fields = ["id", "done"]


class TestResultSerializer(serializers.ModelSerializer):
    environment = serializers.ChoiceField(choices=TestEnvironment.choices, default="test")

    class Meta:
        model = TestResult
        fields = [
            "id",
            "name",
            "environment",
            "passed",
            "proves_backout",
            "notes",
            "recorded_by",
            "recorded_at",
        ]
        read_only_fields = ["id", "recorded_by", "recorded_at"]


class ReleaseSerializer(serializers.ModelSerializer):
    """A release. `changes` are RFC ids (approved ones only: anything else answers 400);
    `targets` is the saved CMDB filter selecting the target CIs (the query parameters of
    /api/v1/cmdb/cis/), also writable as `target_filter`."""

    changes = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    change_ids = serializers.ListField(
        child=serializers.IntegerField(), write_only=True, required=False
    )
    targets = serializers.JSONField(source="target_filter", read_only=True)
    target_filter = serializers.JSONField(required=False)
    wave_plan = serializers.JSONField(required=False)
    release_type = serializers.ChoiceField(choices=ReleaseType.choices, required=False)
    priority = serializers.ChoiceField(choices=ReleasePriority.choices, required=False)
    package = serializers.PrimaryKeyRelatedField(
        queryset=ReleasePackage.objects.all(), required=False, allow_null=True
    )
    version = serializers.IntegerField(required=False)

    class Meta:
        model = Release
        fields = [
            "id",
            "number",
            "title",
            "description",
            "changes",
            "change_ids",
            "release_type",
            "priority",
            "status",
            "package",
            "targets",
            "target_filter",
            "wave_plan",
            "training",
            "support",
            "communication",
            "logistics",
            "window_start",
            "window_end",
            "version",
            "created_by",
            "created",
            "updated",
        ]
        read_only_fields = ["id", "number", "status", "created_by", "created", "updated"]


class ReleaseDetailSerializer(ReleaseSerializer):
    tasks = ReleaseTaskSerializer(many=True, read_only=True)
    test_results = TestResultSerializer(many=True, read_only=True)

    class Meta(ReleaseSerializer.Meta):
        fields = [*ReleaseSerializer.Meta.fields, "tasks", "test_results"]


class ChangeLinkSerializer(serializers.Serializer):
    change = serializers.IntegerField()


class ReadinessSerializer(serializers.ModelSerializer):
    """The Release Readiness Review. `related_changes_approved` is computed from the RFCs;
    sending `decision` (`go`, `no_go`) records it after the checklist."""

    related_changes_approved = serializers.SerializerMethodField()
    decision = serializers.ChoiceField(choices=GoNoGo.choices, required=False)
    version = serializers.IntegerField(required=False)

    class Meta:
        model = ReadinessReview
        fields = [
            *ReadinessReview.CHECKLIST,
            "related_changes_approved",
            "decision",
            "decided_by",
            "decided_at",
            "notes",
            "version",
        ]
        read_only_fields = ["decided_by", "decided_at"]
        extra_kwargs = {item: {"required": False} for item in ReadinessReview.CHECKLIST}

    def get_related_changes_approved(self, review: ReadinessReview) -> bool:
        from ..rfc_link import changes_approved

        return changes_approved(review.release)


class SimulationSerializer(serializers.Serializer):
    failure_rate = serializers.FloatField(min_value=0.0, max_value=1.0, required=False)
    step_delay_ms = serializers.IntegerField(min_value=0, max_value=600_000, required=False)
    seed = serializers.CharField(required=False, allow_blank=True, max_length=100)


class DeploySerializer(serializers.Serializer):
    executor = serializers.CharField(default="agent", max_length=40)
    simulation = SimulationSerializer(required=False)
    waves = serializers.JSONField(required=False)


class BackoutSerializer(serializers.Serializer):
    """Empty: the whole release; `{"wave": id}` or `{"target": id}`: one wave or one target."""

    wave = serializers.IntegerField(required=False)
    target = serializers.IntegerField(required=False)

    def validate(self, attrs):
        if "wave" in attrs and "target" in attrs:
            raise serializers.ValidationError("Back out a wave or a target, not both.")
        return attrs


class SignOffSerializer(serializers.Serializer):
    wave = serializers.IntegerField()
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class EndSerializer(serializers.Serializer):
    """Why a deployment is cancelled (optional) or marked failed (required by the service)."""

    reason = serializers.CharField(required=False, allow_blank=True, max_length=1000)


class WindowSerializer(serializers.Serializer):
    """A new deployment window; `null` (or left out) leaves that end open."""

    window_start = serializers.DateTimeField(required=False, allow_null=True)
    window_end = serializers.DateTimeField(required=False, allow_null=True)


class ArtifactSerializer(serializers.ModelSerializer):
    """An artifact of the definitive software library: a `file` (multipart) or a
    `reference_url` with the `sha256` of what it points to. With a file, the SHA-256 is
    computed here; a `sha256` sent with it must match (else 400)."""

    sha256 = serializers.CharField(required=False, allow_blank=True, max_length=64)
    file = serializers.FileField(required=False, allow_empty_file=True)
    download = serializers.SerializerMethodField()

    class Meta:
        model = SoftwareArtifact
        fields = [
            "id",
            "name",
            "version",
            "author",
            "source",
            "licence",
            "description",
            "file",
            "reference_url",
            "sha256",
            "size",
            "download",
            "created_by",
            "created",
        ]
        read_only_fields = ["id", "size", "created_by", "created", "download"]
        validators: list = []  # the service answers a duplicate with 409

    def get_download(self, artifact: SoftwareArtifact) -> str | None:
        return f"/api/v1/software-library/{artifact.pk}/download/" if artifact.file else None

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["file"] = instance.file.name or None
        return data


class PackageStepSerializer(serializers.ModelSerializer):
    class Meta:
        model = PackageStep
        fields = [
            "id",
            "phase",
            "order",
            "name",
            "module",
            "params",
            "condition",
            "success_test",
            "artifact",
            "idempotent",
        ]
        read_only_fields = ["id", "order"]


class PackageSerializer(serializers.ModelSerializer):
    """A release package: library artifacts and its install, verify and backout steps (in
    the order given per phase)."""

    steps = PackageStepSerializer(many=True, required=False)
    artifacts = serializers.PrimaryKeyRelatedField(
        many=True, queryset=SoftwareArtifact.objects.all(), required=False
    )

    class Meta:
        model = ReleasePackage
        fields = ["id", "name", "version", "description", "artifacts", "steps", "created"]
        read_only_fields = ["id", "created"]
        validators: list = []

    def to_representation(self, instance):
        return _sort_steps(super().to_representation(instance))


PHASE_RANK = {"install": 0, "verify": 1, "backout": 2}


def _sort_steps(data: dict) -> dict:
    data["steps"] = sorted(
        data.get("steps", []), key=lambda step: (PHASE_RANK[step["phase"]], step["order"])
    )
    return data


class StepsSerializer(serializers.Serializer):
    steps = PackageStepSerializer(many=True)


class TargetSerializer(serializers.ModelSerializer):
    """A deployment target. `technician`: the username in charge of it (its own technician,
    else its wave's; null: any Deployment Technician may act); `target_technician`: its own
    (null when it follows its wave)."""

    technician = serializers.SerializerMethodField()
    target_technician = serializers.SlugRelatedField(
        source="technician", slug_field="username", read_only=True
    )

    class Meta:
        model = DeploymentTarget
        fields = [
            "id",
            "deployment",
            "wave",
            "ci",
            "state",
            "technician",
            "target_technician",
            "prior_state",
            "recorded_state",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_technician(self, target: DeploymentTarget) -> str | None:
        user = target.technician or target.wave.technician
        return user.get_username() if user else None


class TechnicianSerializer(serializers.Serializer):
    """`{"technician": "<username>"}` (null or "": nobody, or for a target its wave's)."""

    technician = serializers.CharField(allow_null=True, allow_blank=True, max_length=150)


class WaveTechnicianSerializer(TechnicianSerializer):
    """`{"wave": id, "technician": "<username>"}`."""

    wave = serializers.IntegerField()
