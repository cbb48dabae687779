"""REST serializers of the agents app."""

from __future__ import annotations

from rest_framework import serializers

from cmdb.models import CIType

from ..choices import DiscrepancyStatus
from ..models import (
    Agent,
    AgentGroup,
    CIEvent,
    Discrepancy,
    EnrollmentToken,
    InventoryReport,
    SecurityEvent,
)


class PolicyVersionField(serializers.CharField):
    """A policy's version: read from its fields (agents.policies.policy_version), sent back on
    a change so that a save over someone else's answers 409."""

    def get_attribute(self, instance):
        from ..policies import policy_version

        return policy_version(instance)


class AgentGroupSerializer(serializers.ModelSerializer):
    default_ci_type = serializers.SlugRelatedField(
        slug_field="slug", queryset=CIType.objects.all(), required=False, allow_null=True
    )

    class Meta:
        model = AgentGroup
        fields = [
            "id",
            "name",
            "description",
            "interval_seconds",
            "collect_hardware",
            "collect_software",
            "collect_storage",
            "collect_security",
            "collect_events",
            "stale_after_missed",
            "default_ci_type",
            "raise_incidents",
            "version",
        ]
        extra_kwargs = {"interval_seconds": {"min_value": 60, "max_value": 7 * 86400}}

    version = PolicyVersionField(
        required=False,
        max_length=64,
        help_text="The version you read (changes with every save); required to change a policy.",
    )

    def validate(self, attrs):
        if self.instance is not None and "version" not in attrs:
            raise serializers.ValidationError(
                {"version": ["Send the version you read (optimistic locking)."]}
            )
        return attrs


class AgentSerializer(serializers.ModelSerializer):
    #: The contract's name of `is_collector` (both are accepted and returned).
    collector = serializers.BooleanField(source="is_collector", required=False)
    policy = serializers.SlugRelatedField(
        source="group",
        slug_field="name",
        queryset=AgentGroup.objects.all(),
        required=False,
        allow_null=True,
    )

    class Meta:
        model = Agent
        fields = [
            "id",
            "key_id",
            "name",
            "public_key",
            "status",
            "last_seen",
            "last_report_at",
            "policy",
            "ci",
            "collector",
            "is_collector",
            "enrolled_at",
            "enrolled_from",
            "approved_at",
            "revoked_at",
            "key_rotated_at",
        ]
        read_only_fields = [f for f in fields if f not in ("policy", "is_collector", "collector")]


class EnrollmentTokenRequestSerializer(serializers.Serializer):
    expires_in_hours = serializers.FloatField(min_value=0.01, max_value=720, default=24)
    auto_approve = serializers.BooleanField(default=False)
    policy = serializers.SlugRelatedField(
        slug_field="name", queryset=AgentGroup.objects.all(), required=False, allow_null=True
    )
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class EnrollmentTokenSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username")

    class Meta:
        model = EnrollmentToken
        fields = [
            "id",
            "prefix",
            "created_by",
            "created",
            "expires",
            "auto_approve",
            "note",
            "used_at",
        ]


class EnrollSerializer(serializers.Serializer):
    enrollment_token = serializers.CharField(max_length=200)
    name = serializers.CharField(max_length=255)
    public_key = serializers.CharField(max_length=64)


class RotateKeySerializer(serializers.Serializer):
    public_key = serializers.CharField(max_length=64)
    proof = serializers.CharField(max_length=200)


class InventoryReportSerializer(serializers.ModelSerializer):
    agent = serializers.CharField(source="agent.key_id")

    class Meta:
        model = InventoryReport
        fields = [
            "id",
            "agent",
            "received_at",
            "format",
            "size",
            "sha256",
            "collected_at",
            "status",
            "attempts",
            "processed_at",
            "ci",
            "summary",
            "error",
        ]


class CIEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = CIEvent
        fields = ["id", "ci", "report", "at", "kind", "severity", "detail"]


class DiscrepancySerializer(serializers.ModelSerializer):
    ci_name = serializers.CharField(source="ci.name", read_only=True)
    ci_type = serializers.CharField(source="ci.ci_type.slug", read_only=True)

    class Meta:
        model = Discrepancy
        fields = [
            "id",
            "ci",
            "ci_name",
            "ci_type",
            "kind",
            "key",
            "message",
            "detail",
            "status",
            "first_seen",
            "last_seen",
            "report",
            "resolved_at",
            "resolution",
        ]


class CloseDiscrepancySerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=[DiscrepancyStatus.RESOLVED, DiscrepancyStatus.ACCEPTED]
    )
    resolution = serializers.CharField(
        max_length=2000, required=False, allow_blank=True, default=""
    )


class BindingDecisionSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class SecurityEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = SecurityEvent
        fields = ["id", "at", "reason", "key_id", "remote_addr", "path", "status_code", "detail"]
