"""Serializers of problems, known errors and reports: they validate and shape, services write."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from rest_framework import serializers

from cmdb.models import CIType

from ..choices import ResolutionMethod
from ..models import KnownError, Problem
from ..problem_choices import TrendDimension, TrendPeriod, problem_allowed_moves

MAX_LINKED = 1000


class ProblemSerializer(serializers.ModelSerializer):
    """A problem. `status`, `root_cause`, `workaround`, `known_error` and `resolution` change
    through the actions (`…/cause/`, `…/publish/`, `…/resolve/`, …), never here."""

    incidents = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        max_length=MAX_LINKED,
        write_only=True,
        help_text="Incident ids (read back as a list of ids).",
    )
    owner = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.all(), required=False, allow_null=True
    )
    allowed_moves = serializers.SerializerMethodField()
    version = serializers.IntegerField(required=False)

    class Meta:
        model = Problem
        fields = [
            "id",
            "number",
            "title",
            "description",
            "status",
            "priority",
            "incidents",
            "root_cause",
            "workaround",
            "known_error",
            "resolution",
            "owner",
            "version",
            "allowed_moves",
            "created",
            "updated",
            "resolved_at",
            "closed_at",
        ]
        read_only_fields = [
            "number",
            "status",
            "root_cause",
            "workaround",
            "known_error",
            "resolution",
            "created",
            "updated",
            "resolved_at",
            "closed_at",
        ]
        extra_kwargs = {"priority": {"min_value": 1, "max_value": 5}}

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["incidents"] = sorted(i.pk for i in instance.incidents.all())
        return data

    def get_allowed_moves(self, obj) -> list[str]:
        return problem_allowed_moves(obj.status)


class ProblemLinkSerializer(serializers.Serializer):
    incidents = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, max_length=MAX_LINKED
    )
    unlink = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, max_length=MAX_LINKED
    )

    def validate(self, attrs):
        if not attrs.get("incidents") and not attrs.get("unlink"):
            raise serializers.ValidationError("Give incidents to link or unlink.")
        return attrs


class ProblemCauseSerializer(serializers.Serializer):
    root_cause = serializers.CharField()
    workaround = serializers.CharField(required=False, allow_blank=True)
    version = serializers.IntegerField(required=False)


class ProblemPublishSerializer(serializers.Serializer):
    title = serializers.CharField(required=False, max_length=200)
    symptoms = serializers.CharField(required=False, allow_blank=True)
    solution = serializers.CharField(required=False, allow_blank=True)
    category = serializers.CharField(required=False, allow_blank=True, max_length=100)
    publish = serializers.BooleanField(default=True)


class ProblemResolveSerializer(serializers.Serializer):
    resolution = serializers.CharField()
    resolve_incidents = serializers.BooleanField(default=False)
    incidents = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        max_length=MAX_LINKED,
        help_text="Only these open incidents (default: all of them).",
    )
    resolution_method = serializers.ChoiceField(
        choices=ResolutionMethod.choices,
        default=ResolutionMethod.FIX,
        help_text="How the incidents resolved with the problem were resolved.",
    )
    version = serializers.IntegerField(required=False)


class ProblemReasonSerializer(serializers.Serializer):
    reason = serializers.CharField()


class KnownErrorSerializer(serializers.ModelSerializer):
    """A known error. `cis` are CI ids, `ci_types` CI type slugs."""

    cis = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        max_length=MAX_LINKED,
        write_only=True,
    )
    ci_types = serializers.ListField(
        child=serializers.SlugField(), required=False, max_length=200, write_only=True
    )

    class Meta:
        model = KnownError
        fields = [
            "id",
            "title",
            "symptoms",
            "root_cause",
            "workaround",
            "solution",
            "category",
            "cis",
            "ci_types",
            "published",
            "published_at",
            "created",
            "updated",
        ]
        read_only_fields = ["published_at", "created", "updated"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["cis"] = sorted(c.pk for c in instance.cis.all())
        data["ci_types"] = sorted(t.slug for t in instance.ci_types.all())
        return data

    def validate_cis(self, value):
        from cmdb.models import ConfigurationItem

        found = list(ConfigurationItem.objects.filter(pk__in=set(value)))
        missing = sorted(set(value) - {c.pk for c in found})
        if missing:
            raise serializers.ValidationError(f"Unknown CIs: {', '.join(map(str, missing))}.")
        return found

    def validate_ci_types(self, value):
        found = list(CIType.objects.filter(slug__in=set(value)))
        missing = sorted(set(value) - {t.slug for t in found})
        if missing:
            raise serializers.ValidationError(f"Unknown CI types: {', '.join(missing)}.")
        return found


class KnownErrorSuggestionSerializer(serializers.ModelSerializer):
    score = serializers.FloatField(read_only=True)

    class Meta:
        model = KnownError
        fields = ["id", "title", "workaround", "category", "published", "score"]


class CompareSerializer(serializers.Serializer):
    """`{"affected": {"ids": [...]} | {"filter": {...}}, "baseline": same shape (optional)}`."""

    affected = serializers.JSONField()
    baseline = serializers.JSONField(required=False, allow_null=True)
    limit = serializers.IntegerField(min_value=1, max_value=500, default=50)


class TrendQuerySerializer(serializers.Serializer):
    group_by = serializers.ChoiceField(choices=TrendDimension.choices)
    period = serializers.ChoiceField(choices=TrendPeriod.choices, default=TrendPeriod.WEEK)
    start = serializers.DateField(required=False)
    end = serializers.DateField(required=False)
    limit = serializers.IntegerField(min_value=1, max_value=100, default=20)
