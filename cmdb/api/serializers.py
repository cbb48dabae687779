"""REST serializers of the CMDB: they validate and shape, services do the writing."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from rest_framework import serializers

from itsm import caching
from itsm.datetimes import StorableDateTimeField

from ..choices import CI_INITIAL_STATUSES, CIStatus, ImpactDirection
from ..history_display import summary
from ..models import (
    CIRole,
    CIType,
    ConfigurationItem,
    Department,
    HistoryEntry,
    Relationship,
    RelationshipType,
    Site,
)
from ..selectors import MAX_IMPACT_DEPTH
from ..services import validate_attribute_schema

User = get_user_model()


class CachedSlugRelatedField(serializers.SlugRelatedField):
    """A SlugRelatedField that looks each slug up once per request, not once per item.

    A bulk create of 10,000 CIs of three types makes three queries instead of 10,000.
    """

    def to_internal_value(self, data):
        memo = (
            self.context.setdefault("_slug_lookups", {}) if isinstance(self.context, dict) else {}
        )
        key = (self.queryset.model._meta.label, self.slug_field, str(data))
        if key not in memo:
            memo[key] = super().to_internal_value(data)
        return memo[key]


_ci_types_by_slug: dict[tuple[int, str], CIType] = {}


class CITypeSlugField(CachedSlugRelatedField):
    """The CI type by slug, remembered by each process while the "citypes" generation lasts
    (bumped whenever a CI type is saved or deleted), so creating a CI does not query it."""

    def to_internal_value(self, data):
        if not caching.enabled() or not isinstance(data, str):
            return super().to_internal_value(data)
        key = (caching.generation("citypes"), data)
        ci_type = _ci_types_by_slug.get(key)
        if ci_type is None:
            ci_type = super().to_internal_value(data)
            if len(_ci_types_by_slug) > 1000:
                _ci_types_by_slug.clear()
            _ci_types_by_slug[key] = ci_type
        return ci_type


class CITypeSerializer(serializers.ModelSerializer):
    class Meta:
        model = CIType
        fields = [
            "id",
            "name",
            "slug",
            "description",
            "attribute_schema",
            "is_hardware",
            "builtin_key",
        ]
        read_only_fields = ["builtin_key"]

    def validate_attribute_schema(self, value):
        from django.core.exceptions import ValidationError

        try:
            validate_attribute_schema(value)
        except ValidationError as exc:
            raise serializers.ValidationError(exc.message_dict["attribute_schema"]) from exc
        return value


class CIRoleSerializer(serializers.ModelSerializer):
    user = serializers.SlugRelatedField(slug_field="username", queryset=User.objects.all())

    class Meta:
        model = CIRole
        fields = ["user", "role"]


class CISerializer(serializers.Serializer):
    """A CI. `status` is set at creation only; later moves go through `transition/`.

    Declared field by field rather than as a ModelSerializer: it is built on every create and
    update, and model introspection was most of its cost. Writes go through cmdb.services;
    uniqueness of identifiers is enforced there and by the database.
    """

    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)
    ci_type = CITypeSlugField(slug_field="slug", queryset=CIType.objects.all())
    status = serializers.ChoiceField(
        choices=[(v, label) for v, label in CIStatus.choices if v in CI_INITIAL_STATUSES],
        required=False,
    )
    managed = serializers.BooleanField(required=False)
    owner = CachedSlugRelatedField(
        slug_field="username", queryset=User.objects.all(), required=False, allow_null=True
    )
    department = CachedSlugRelatedField(
        slug_field="name", queryset=Department.objects.all(), required=False, allow_null=True
    )
    site = CachedSlugRelatedField(
        slug_field="slug", queryset=Site.objects.all(), required=False, allow_null=True
    )
    serial_number = serializers.CharField(max_length=100, required=False, allow_blank=True)
    asset_tag = serializers.CharField(max_length=100, required=False, allow_blank=True)
    hostname = serializers.CharField(max_length=255, required=False, allow_blank=True)
    uuid = serializers.CharField(max_length=40, required=False, allow_blank=True)
    attributes = serializers.JSONField(required=False)
    version = serializers.IntegerField(required=False, min_value=1)
    created = serializers.DateTimeField(read_only=True)
    updated = serializers.DateTimeField(read_only=True)

    def validate(self, attrs):
        if self.instance is not None:
            if "status" in attrs:
                raise serializers.ValidationError(
                    {"status": ["Use the transition action to change the status."]}
                )
            if "version" not in attrs:
                raise serializers.ValidationError(
                    {"version": ["Send the version you read (optimistic locking)."]}
                )
        else:
            attrs.pop("version", None)
        return attrs


class TransitionSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=CIStatus.choices)
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    version = serializers.IntegerField(required=False, min_value=1)


class HistoryEntrySerializer(serializers.ModelSerializer):
    """One recorded change; serialises a `history_display.ReadableEntry`."""

    actor = serializers.CharField(source="actor_name")
    summary = serializers.SerializerMethodField(
        help_text="The changes as people read them: names, labels, one line per change."
    )

    class Meta:
        model = HistoryEntry
        fields = [
            "id",
            "at",
            "actor",
            "source",
            "source_ref",
            "kind",
            "changes",
            "reason",
            "request_id",
            "summary",
        ]

    def get_summary(self, obj) -> list[str]:
        return summary(getattr(obj, "lines", []))


class ImpactQuerySerializer(serializers.Serializer):
    direction = serializers.ChoiceField(
        choices=ImpactDirection.choices, default=ImpactDirection.DOWNSTREAM
    )
    depth = serializers.IntegerField(min_value=1, max_value=MAX_IMPACT_DEPTH, default=3)


class ImpactNodeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    ci_type = serializers.CharField()
    status = serializers.CharField()
    depth = serializers.IntegerField()


class ImpactEdgeSerializer(serializers.Serializer):
    source = serializers.IntegerField()
    target = serializers.IntegerField()
    type = serializers.CharField()


class ImpactSerializer(serializers.Serializer):
    root = serializers.IntegerField(source="root.pk")
    direction = serializers.CharField()
    depth = serializers.IntegerField()
    truncated = serializers.BooleanField()
    nodes = ImpactNodeSerializer(many=True)
    edges = ImpactEdgeSerializer(many=True)


class SoftwareItemSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255)
    vendor = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    version = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


class AsOfQuerySerializer(serializers.Serializer):
    at = StorableDateTimeField()


class RelationshipTypeSerializer(serializers.ModelSerializer):
    class Meta:
        model = RelationshipType
        fields = ["id", "name", "slug", "forward_label", "reverse_label"]


class RelationshipSerializer(serializers.ModelSerializer):
    type = serializers.SlugRelatedField(slug_field="slug", queryset=RelationshipType.objects.all())
    source = serializers.PrimaryKeyRelatedField(queryset=ConfigurationItem.objects.all())
    target = serializers.PrimaryKeyRelatedField(queryset=ConfigurationItem.objects.all())

    class Meta:
        model = Relationship
        fields = ["id", "source", "target", "type", "created"]
        read_only_fields = ["id", "created"]
        validators = []  # duplicates are refused by the service with a clear message
