"""REST serializers of the service desk: they validate and shape, services do the writing."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone
from rest_framework import serializers

from cmdb.models import Department
from itsm.datetimes import StorableDateTimeField

from .. import sla_services
from ..choices import Cause, Level, ResolutionMethod, Severity, SlaTarget
from ..models import Incident, QuickLogTemplate, SlaPolicy

User = get_user_model()

MAX_CIS = 200


class IncidentSerializer(serializers.ModelSerializer):
    """An incident per the contract, with the SLA time left (`…_remaining_s`: wall-clock
    seconds to the due time, negative when overdue, frozen while on hold, null when the
    target no longer applies)."""

    cis = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        max_length=MAX_CIS,
        write_only=True,
    )
    caller = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False, allow_null=True
    )
    department = serializers.PrimaryKeyRelatedField(
        queryset=Department.objects.all(), required=False, allow_null=True
    )
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False, allow_null=True
    )
    assignment_group = serializers.PrimaryKeyRelatedField(
        queryset=Group.objects.all(), required=False, allow_null=True
    )
    caller_name = serializers.SerializerMethodField()
    assignee_name = serializers.SerializerMethodField()
    related = serializers.SerializerMethodField()
    response_remaining_s = serializers.SerializerMethodField()
    resolve_remaining_s = serializers.SerializerMethodField()

    class Meta:
        model = Incident
        fields = [
            "id",
            "number",
            "title",
            "description",
            "severity",
            "impact",
            "urgency",
            "priority",
            "status",
            "category",
            "cause",
            "source",
            "caller",
            "caller_name",
            "caller_role",
            "department",
            "cis",
            "assignee",
            "assignee_name",
            "assignment_group",
            "resolution_method",
            "resolution",
            "related",
            "response_due",
            "resolve_due",
            "response_remaining_s",
            "resolve_remaining_s",
            "sla_breached",
            "on_hold_since",
            "hold_reason",
            "responded_at",
            "resolved_at",
            "closed_at",
            "version",
            "created",
            "updated",
        ]
        read_only_fields = [
            "number",
            "priority",
            "status",
            "source",
            "caller_role",
            "resolution_method",
            "resolution",
            "response_due",
            "resolve_due",
            "sla_breached",
            "on_hold_since",
            "hold_reason",
            "responded_at",
            "resolved_at",
            "closed_at",
            "version",
            "created",
            "updated",
        ]

    def _now(self):
        if "now" not in self.context:
            self.context["now"] = timezone.now()
        return self.context["now"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        ids = getattr(instance, "ci_ids", None)  # set by incident_open: no query needed
        data["cis"] = ids if ids is not None else [ci.pk for ci in instance.cis.all()]
        return data

    def get_caller_name(self, obj) -> str:
        return _name(obj.caller) if obj.caller_id else ""

    def get_assignee_name(self, obj) -> str:
        return _name(obj.assignee) if obj.assignee_id else ""

    def get_related(self, obj) -> list[int]:
        ids = getattr(obj, "related_ids", None)  # set by incident_open: no query needed
        return ids if ids is not None else [other.pk for other in obj.related.all()]

    def get_response_remaining_s(self, obj) -> int | None:
        return sla_services.remaining_seconds(obj, SlaTarget.RESPONSE, now=self._now())

    def get_resolve_remaining_s(self, obj) -> int | None:
        return sla_services.remaining_seconds(obj, SlaTarget.RESOLUTION, now=self._now())


def _name(user) -> str:
    return user.get_full_name() or user.get_username()


class IncidentCreateSerializer(serializers.Serializer):
    """What logging an incident takes (a plain serializer: cheaper than the model one)."""

    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)
    severity = serializers.ChoiceField(choices=Severity.choices, required=False)
    impact = serializers.ChoiceField(choices=Level.choices, required=False)
    urgency = serializers.ChoiceField(choices=Level.choices, required=False)
    category = serializers.CharField(max_length=100, required=False, allow_blank=True)
    cause = serializers.ChoiceField(choices=Cause.choices, required=False, allow_blank=True)
    cis = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, max_length=MAX_CIS
    )
    caller = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False, allow_null=True
    )
    department = serializers.PrimaryKeyRelatedField(
        queryset=Department.objects.all(), required=False, allow_null=True
    )
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False, allow_null=True
    )
    assignment_group = serializers.PrimaryKeyRelatedField(
        queryset=Group.objects.all(), required=False, allow_null=True
    )


class IncidentUpdateSerializer(serializers.Serializer):
    """PATCH: the fields to change and the `version` read (a stale one is a 409)."""

    version = serializers.IntegerField(min_value=1)
    title = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    severity = serializers.ChoiceField(choices=Severity.choices, required=False)
    impact = serializers.ChoiceField(choices=Level.choices, required=False)
    urgency = serializers.ChoiceField(choices=Level.choices, required=False)
    category = serializers.CharField(max_length=100, required=False, allow_blank=True)
    cause = serializers.ChoiceField(choices=Cause.choices, required=False, allow_blank=True)
    caller = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False, allow_null=True
    )
    department = serializers.PrimaryKeyRelatedField(
        queryset=Department.objects.all(), required=False, allow_null=True
    )
    cis = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, max_length=MAX_CIS
    )
    resolve_due = StorableDateTimeField(required=False)

    def validate(self, attrs):
        extra = set(self.initial_data) - set(self.fields)
        if extra:
            raise serializers.ValidationError(
                {name: ["Not changeable here (use the workflow actions)."] for name in extra}
            )
        return attrs


class VersionedSerializer(serializers.Serializer):
    """Every action takes an optional `version` (a stale one is a 409)."""

    version = serializers.IntegerField(min_value=1, required=False)


class AssignSerializer(VersionedSerializer):
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False, allow_null=True
    )
    group = serializers.PrimaryKeyRelatedField(
        queryset=Group.objects.all(), required=False, allow_null=True
    )
    note = serializers.CharField(required=False, allow_blank=True, default="")


class ReasonSerializer(VersionedSerializer):
    reason = serializers.CharField(max_length=2000)


class ResolveSerializer(VersionedSerializer):
    resolution_method = serializers.ChoiceField(choices=ResolutionMethod.choices)
    resolution = serializers.CharField()
    cause = serializers.ChoiceField(choices=Cause.choices, required=False, allow_blank=True)


class EscalateSerializer(ReasonSerializer):
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False, allow_null=True
    )
    group = serializers.PrimaryKeyRelatedField(
        queryset=Group.objects.all(), required=False, allow_null=True
    )
    raise_priority = serializers.BooleanField(required=False, default=False)


class LinkSerializer(serializers.Serializer):
    related = serializers.IntegerField(min_value=1)


class WorkLogSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    author = serializers.CharField(source="author_name", read_only=True)
    note = serializers.CharField(max_length=20000)
    minutes = serializers.IntegerField(min_value=0, max_value=7 * 24 * 60, default=0)
    public = serializers.BooleanField(default=False)
    created = serializers.DateTimeField(read_only=True)


class TimelineItemSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    kind = serializers.CharField()
    actor = serializers.CharField()
    source = serializers.CharField()
    reason = serializers.CharField()
    changes = serializers.DictField()
    summary = serializers.ListField(child=serializers.CharField())
    note = serializers.CharField()
    minutes = serializers.IntegerField()
    public = serializers.BooleanField()


class QuickLogSerializer(serializers.Serializer):
    template = serializers.PrimaryKeyRelatedField(
        queryset=QuickLogTemplate.objects.filter(active=True)
    )
    caller = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False, allow_null=True
    )
    department = serializers.PrimaryKeyRelatedField(
        queryset=Department.objects.all(), required=False, allow_null=True
    )
    cis = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, max_length=MAX_CIS
    )


class DeviceSerializer(serializers.Serializer):
    """A CI as the self-service portal offers it."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    ci_type = serializers.CharField(source="ci_type.name")
    hostname = serializers.CharField()
    asset_tag = serializers.CharField()
    serial_number = serializers.CharField()


class QuickLogTemplateSerializer(serializers.ModelSerializer):
    class Meta:
        model = QuickLogTemplate
        fields = [
            "id",
            "name",
            "title",
            "category",
            "cause",
            "severity",
            "impact",
            "urgency",
            "resolution_method",
            "resolution",
        ]


class SlaPolicySerializer(serializers.ModelSerializer):
    calendar_name = serializers.CharField(source="calendar.name", read_only=True)

    class Meta:
        model = SlaPolicy
        fields = [
            "id",
            "name",
            "priority",
            "ci_type",
            "department",
            "calendar",
            "calendar_name",
            "response_minutes",
            "resolution_minutes",
        ]
