"""Serializers of the change-management API: they validate and shape; services decide."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from rest_framework import serializers

from cmdb.models import CIType, ConfigurationItem
from incidents.models import Incident
from itsm.datetimes import StorableDateTimeField
from itsm.models import AuditEntry

from ..choices import MeetingDecision, ReviewOutcome, VoteDecision
from ..models import (
    ApprovalBody,
    ApprovalRule,
    Blackout,
    CabAgendaItem,
    CabMeeting,
    Change,
    ChangeAttachment,
    StandardChangeTemplate,
    Vote,
)


def _window_errors(start, end) -> dict | None:
    if start is not None and end is not None and end <= start:
        return {"planned_end": ["The planned end must be after the planned start."]}
    return None


class AttachmentSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = ChangeAttachment
        fields = ["id", "name", "url", "uploaded_by", "uploaded"]

    def get_url(self, obj) -> str:
        try:
            return obj.file.url
        except ValueError:
            return ""


class ChangeSerializer(serializers.ModelSerializer):
    """An RFC. Status, number, risk and approval fields are read-only: they move through the
    workflow actions. PATCH may send `version` (a stale one answers 409)."""

    originator = serializers.PrimaryKeyRelatedField(read_only=True)
    originator_name = serializers.CharField(source="originator.get_username", read_only=True)
    cis = serializers.PrimaryKeyRelatedField(
        many=True, queryset=ConfigurationItem.objects.all(), required=False
    )
    template = serializers.PrimaryKeyRelatedField(
        queryset=StandardChangeTemplate.objects.all(), required=False, allow_null=True
    )
    planned_start = StorableDateTimeField(required=False, allow_null=True)
    planned_end = StorableDateTimeField(required=False, allow_null=True)
    version = serializers.IntegerField(required=False, min_value=1)

    class Meta:
        model = Change
        fields = [
            "id",
            "number",
            "title",
            "description",
            "originator",
            "originator_name",
            "cis",
            "implementation_plan",
            "backout_plan",
            "change_type",
            "category",
            "reason",
            "priority",
            "estimated_hours",
            "resources",
            "risk",
            "risk_score",
            "risk_reasons",
            "status",
            "planned_start",
            "planned_end",
            "technical_assessment",
            "template",
            "approver",
            "approval_body",
            "vote_round",
            "implementer",
            "blackout_override_reason",
            "outcome",
            "review_notes",
            "caused_incidents",
            "submitted_at",
            "decided_at",
            "implemented_at",
            "closed_at",
            "version",
            "created",
            "updated",
        ]
        read_only_fields = [
            "number",
            "risk",
            "risk_score",
            "risk_reasons",
            "status",
            "approver",
            "approval_body",
            "vote_round",
            "implementer",
            "blackout_override_reason",
            "outcome",
            "review_notes",
            "caused_incidents",
            "submitted_at",
            "decided_at",
            "implemented_at",
            "closed_at",
            "created",
            "updated",
        ]
        extra_kwargs = {"estimated_hours": {"min_value": 0}}

    def validate(self, attrs):
        start = attrs.get("planned_start", getattr(self.instance, "planned_start", None))
        end = attrs.get("planned_end", getattr(self.instance, "planned_end", None))
        errors = _window_errors(start, end)
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class VoteSerializer(serializers.ModelSerializer):
    voter_name = serializers.CharField(source="voter.get_username", read_only=True)

    class Meta:
        model = Vote
        fields = ["id", "voter", "voter_name", "round", "decision", "comment", "at"]


class VoteInSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=VoteDecision.choices)
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)


class CommentSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)


class NoteSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)


class CancelSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)


class ScheduleSerializer(serializers.Serializer):
    start = StorableDateTimeField()
    end = StorableDateTimeField()
    override_reason = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=5000
    )
    implementer = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.filter(is_active=True), required=False, allow_null=True
    )

    def validate(self, attrs):
        if attrs["end"] <= attrs["start"]:
            raise serializers.ValidationError({"end": ["The end must be after the start."]})
        return attrs


class ReviewSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=ReviewOutcome.choices)
    notes = serializers.CharField(required=False, allow_blank=True, default="", max_length=20000)
    incidents = serializers.PrimaryKeyRelatedField(
        many=True, queryset=Incident.objects.all(), required=False, default=list
    )


class WindowQuerySerializer(serializers.Serializer):
    start = StorableDateTimeField()
    end = StorableDateTimeField()

    def validate(self, attrs):
        if attrs["end"] <= attrs["start"]:
            raise serializers.ValidationError({"end": ["The end must be after the start."]})
        return attrs


class OptionalWindowQuerySerializer(WindowQuerySerializer):
    start = StorableDateTimeField(required=False)
    end = StorableDateTimeField(required=False)

    def validate(self, attrs):
        if "start" in attrs and "end" in attrs:
            return super().validate(attrs)
        return attrs


class LogEntrySerializer(serializers.ModelSerializer):
    """One event of the change log."""

    actor = serializers.CharField(source="actor_name")

    class Meta:
        model = AuditEntry
        fields = ["id", "at", "actor", "source", "source_ref", "kind", "changes", "reason",
                  "request_id"]  # fmt: skip


class AttachmentInSerializer(serializers.Serializer):
    file = serializers.FileField()
    name = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)


class TemplateSerializer(serializers.ModelSerializer):
    class Meta:
        model = StandardChangeTemplate
        fields = [
            "id",
            "name",
            "description",
            "category",
            "implementation_plan",
            "backout_plan",
            "estimated_hours",
            "active",
            "created",
            "updated",
        ]
        read_only_fields = ["created", "updated"]


class BlackoutSerializer(serializers.ModelSerializer):
    start = StorableDateTimeField()
    end = StorableDateTimeField()
    ci_types = serializers.SlugRelatedField(
        many=True, slug_field="slug", queryset=CIType.objects.all(), required=False
    )
    cis = serializers.PrimaryKeyRelatedField(
        many=True, queryset=ConfigurationItem.objects.all(), required=False
    )

    class Meta:
        model = Blackout
        fields = ["id", "name", "start", "end", "reason", "ci_types", "cis"]

    def validate(self, attrs):
        start = attrs.get("start", getattr(self.instance, "start", None))
        end = attrs.get("end", getattr(self.instance, "end", None))
        if start is not None and end is not None and end <= start:
            raise serializers.ValidationError({"end": ["The end must be after the start."]})
        return attrs


class AgendaItemSerializer(serializers.ModelSerializer):
    number = serializers.CharField(source="change.number", read_only=True)
    title = serializers.CharField(source="change.title", read_only=True)
    status = serializers.CharField(source="change.status", read_only=True)

    class Meta:
        model = CabAgendaItem
        fields = ["change", "number", "title", "status", "position", "decision", "notes"]


class CabMeetingSerializer(serializers.ModelSerializer):
    body = serializers.PrimaryKeyRelatedField(queryset=ApprovalBody.objects.all())
    start = StorableDateTimeField()
    end = StorableDateTimeField(required=False, allow_null=True)
    items = AgendaItemSerializer(many=True, read_only=True)

    class Meta:
        model = CabMeeting
        fields = ["id", "body", "title", "start", "end", "location", "status", "minutes", "items"]
        read_only_fields = ["status", "minutes"]

    def validate(self, attrs):
        end = attrs.get("end")
        if end is not None and end <= attrs["start"]:
            raise serializers.ValidationError({"end": ["The end must be after the start."]})
        return attrs


class MeetingDecisionSerializer(serializers.Serializer):
    change = serializers.PrimaryKeyRelatedField(queryset=Change.objects.all())
    decision = serializers.ChoiceField(choices=MeetingDecision.choices)
    notes = serializers.CharField(required=False, allow_blank=True, default="", max_length=20000)


class ApprovalBodySerializer(serializers.ModelSerializer):
    class Meta:
        model = ApprovalBody
        fields = ["id", "name", "kind", "members", "group", "quorum", "majority",
                  "business_members", "technical_members"]  # fmt: skip


class ApprovalRuleSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApprovalRule
        fields = ["id", "name", "change_type", "priority", "min_risk", "max_risk", "approver",
                  "body", "order", "active"]  # fmt: skip


class MinutesSerializer(serializers.Serializer):
    minutes = serializers.CharField(allow_blank=True, max_length=100_000)
