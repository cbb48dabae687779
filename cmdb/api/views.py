"""REST endpoints of the CMDB. Thin: validate with a serializer, call a service or selector."""

from __future__ import annotations

import hashlib

from django.core.cache import cache
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.generics import get_object_or_404
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from itsm import caching
from itsm.limits import check_list_length
from itsm.permissions import HasPerm

from .. import selectors, services
from ..choices import ChangeSource
from ..filtersets import (
    CIFilterSet,
    CITypeFilterSet,
    RelationshipFilterSet,
    RelationshipTypeFilterSet,
)
from ..history import ChangeContext
from ..history_display import summary
from ..models import CIType, InstalledSoftware, Relationship, RelationshipType
from . import serializers as s
from .representations import ci_representation, ci_rows, ci_values

MAX_BULK_ITEMS = 10_000
LIST_CACHE_SECONDS = 60


def list_cache_key(request) -> str | None:
    """Cache key of a CI list page: the query and the CMDB generation (None: do not cache)."""
    if not caching.enabled() or request.method != "GET":
        return None
    renderer = getattr(request, "accepted_renderer", None)
    if renderer is None or renderer.format != "json":
        return None
    query = "&".join(
        sorted(f"{k}={v}" for k, values in request.query_params.lists() for v in values)
    )
    digest = hashlib.sha256(query.encode()).hexdigest()[:32]
    return f"cmdb:cis:{caching.generation('cmdb')}:{digest}"


def api_context(request, reason: str = "") -> ChangeContext:
    """The change context of an API call: the token's or session's user, source `api`."""
    return ChangeContext(actor=request.user, source=ChangeSource.API, reason=reason)


class CITypeViewSet(viewsets.ModelViewSet):
    """CI classes and the JSON Schema their CIs' attributes must satisfy."""

    queryset = CIType.objects.all()
    serializer_class = s.CITypeSerializer
    filterset_class = CITypeFilterSet
    ordering_fields = ["name", "slug"]
    lookup_field = "slug"

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        serializer.instance = services.ci_type_create(
            context=api_context(self.request), name=data.pop("name"), slug=data.pop("slug"), **data
        )

    def perform_update(self, serializer):
        serializer.instance = services.ci_type_update(
            context=api_context(self.request),
            ci_type_id=serializer.instance.pk,
            data=serializer.validated_data,
        )

    def perform_destroy(self, instance):
        services.ci_type_delete(context=api_context(self.request), ci_type_id=instance.pk)


class CIViewSet(viewsets.ModelViewSet):
    """Configuration items. POST a list to create many at once (all or nothing)."""

    serializer_class = s.CISerializer
    filterset_class = CIFilterSet
    ordering_fields = ["name", "status", "hostname", "created", "updated", "id"]
    extra_query_params: tuple[str, ...] = ()
    http_method_names = ["get", "post", "patch", "put", "delete", "head", "options"]

    def get_queryset(self):
        if self.action == "list":
            return selectors.ci_list_queryset()
        return selectors.ci_detail_queryset()

    @extend_schema(responses=s.CISerializer(many=True))
    def list(self, request, *args, **kwargs):
        """A page of CIs, built from tuples (see representations.py), cached as rendered JSON
        per CMDB generation when a shared cache is configured."""
        key = list_cache_key(request)
        if key is not None:
            body = cache.get(key)
            if body is not None:
                return HttpResponse(body, content_type="application/json")
        page = self.paginator.paginate_lazily(
            self.filter_queryset(self.get_queryset()), request, self
        )
        response = self.get_paginated_response(ci_rows(ci_values(page)))
        if key is None:
            return response
        body = JSONRenderer().render(response.data)
        cache.set(key, body, LIST_CACHE_SECONDS)
        return HttpResponse(body, content_type="application/json")

    @extend_schema(request=s.CISerializer(many=True), responses={201: s.CISerializer(many=True)})
    def create(self, request, *args, **kwargs):
        if isinstance(request.data, list):
            if not request.data:
                raise ValidationError({"non_field_errors": ["Send at least one item."]})
            if len(request.data) > MAX_BULK_ITEMS:
                raise ValidationError(
                    {"non_field_errors": [f"At most {MAX_BULK_ITEMS} items per request."]}
                )
            serializer = self.get_serializer(data=request.data, many=True)
            serializer.is_valid(raise_exception=True)
            cis = services.ci_bulk_create(
                context=api_context(request), items=serializer.validated_data
            )
            return Response(
                self.get_serializer(cis, many=True).data, status=status.HTTP_201_CREATED
            )
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        ci = services.ci_create(
            context=api_context(request), ci_type=data.pop("ci_type"), name=data.pop("name"), **data
        )
        return Response(ci_representation(ci), status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        ci = self.get_object()
        serializer = self.get_serializer(
            ci, data=request.data, partial=kwargs.get("partial", False)
        )
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        version = data.pop("version")
        ci = services.ci_update(
            context=api_context(request), ci_id=ci.pk, data=data, expected_version=version
        )
        return Response(self.get_serializer(selectors.ci_detail_queryset().get(pk=ci.pk)).data)

    def destroy(self, request, *args, **kwargs):
        services.ci_delete(context=api_context(request), ci_id=self.get_object().pk)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=s.TransitionSerializer, responses=s.CISerializer)
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[IsAuthenticated, HasPerm("cmdb.transition_ci")],
    )
    def transition(self, request, pk=None):
        """Move the CI through its lifecycle: `{"status", "reason"}`; refused moves answer 400."""
        ci = self.get_object()
        body = s.TransitionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        ci = services.ci_transition(
            context=api_context(request, reason=body.validated_data["reason"]),
            ci_id=ci.pk,
            to_status=body.validated_data["status"],
            expected_version=body.validated_data.get("version"),
        )
        return Response(self.get_serializer(selectors.ci_detail_queryset().get(pk=ci.pk)).data)

    @extend_schema(responses=s.HistoryEntrySerializer(many=True))
    @action(detail=True, methods=["get"], filterset_class=None, ordering_fields=[])
    def history(self, request, pk=None):
        """Every recorded change of the CI, newest first (`changes` as recorded, ids and codes;
        `summary` as people read it)."""
        ci = self.get_object()
        page = self.paginate_queryset(selectors.ci_history(ci))
        readable = selectors.readable_entries(page)
        return self.get_paginated_response(s.HistoryEntrySerializer(readable, many=True).data)

    @extend_schema(
        parameters=[s.AsOfQuerySerializer],
        responses={200: dict},
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="as-of",
        filterset_class=None,
        extra_query_params=["at"],
    )
    def as_of(self, request, pk=None):
        """The CI as it stood at `?at=<ISO 8601>`: fields, relationships, installed software."""
        ci = self.get_object()
        query = s.AsOfQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        result = selectors.ci_as_of(ci, query.validated_data["at"])
        return Response(
            {
                "at": result.at,
                "exists": result.exists,
                "fields": result.fields,
                "relationships": result.relationships,
                "software": result.software,
                "summary": summary(result.readable),
            }
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("direction", enum=["downstream", "upstream"]),
            OpenApiParameter("depth", int),
        ],
        responses=s.ImpactSerializer,
    )
    @action(
        detail=True,
        methods=["get"],
        filterset_class=None,
        extra_query_params=["direction", "depth"],
    )
    def impact(self, request, pk=None):
        """Upstream or downstream traversal to `depth` hops; safe on cycles."""
        ci = self.get_object()
        query = s.ImpactQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        result = selectors.impact_analysis(ci=ci, **query.validated_data)
        return Response(s.ImpactSerializer(result).data)

    @extend_schema(
        request=s.SoftwareItemSerializer(many=True), responses=s.SoftwareItemSerializer(many=True)
    )
    @action(detail=True, methods=["get", "put"], filterset_class=None, ordering_fields=[])
    def software(self, request, pk=None):
        """Installed software; `PUT [{"name", "vendor", "version"}, …]` replaces the list."""
        ci = self.get_object()
        if request.method == "PUT":
            if not request.user.has_perm("cmdb.change_configurationitem"):
                self.permission_denied(request, message="You may not change this CI's software.")
            check_list_length(request.data, setting="CMDB_SOFTWARE_MAX_ITEMS")
            body = s.SoftwareItemSerializer(data=request.data, many=True)
            body.is_valid(raise_exception=True)
            services.software_replace(
                context=api_context(request), ci=ci, items=body.validated_data
            )
        rows = (
            InstalledSoftware.objects.filter(ci=ci)
            .order_by("software__product__name", "software__version")
            .values("software__product__name", "software__product__vendor", "software__version")
        )
        data = [
            {
                "name": r["software__product__name"],
                "vendor": r["software__product__vendor"],
                "version": r["software__version"],
            }
            for r in rows
        ]
        return Response(data)

    @extend_schema(request=s.CIRoleSerializer(many=True), responses=s.CIRoleSerializer(many=True))
    @action(detail=True, methods=["get", "put"], filterset_class=None, ordering_fields=[])
    def roles(self, request, pk=None):
        """People responsible for the CI; `PUT [{"user", "role"}, …]` replaces them."""
        ci = self.get_object()
        if request.method == "PUT":
            if not request.user.has_perm("cmdb.change_configurationitem"):
                self.permission_denied(request, message="You may not change this CI's roles.")
            body = s.CIRoleSerializer(data=request.data, many=True)
            body.is_valid(raise_exception=True)
            services.ci_set_roles(
                context=api_context(request),
                ci_id=ci.pk,
                roles=[(item["user"], item["role"]) for item in body.validated_data],
            )
        return Response(s.CIRoleSerializer(ci.roles.select_related("user"), many=True).data)


class RelationshipTypeViewSet(viewsets.ModelViewSet):
    queryset = RelationshipType.objects.all()
    serializer_class = s.RelationshipTypeSerializer
    filterset_class = RelationshipTypeFilterSet
    ordering_fields = ["name", "slug"]
    lookup_field = "slug"

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        serializer.instance = services.relationship_type_create(
            context=api_context(self.request), name=data.pop("name"), slug=data.pop("slug"), **data
        )

    def perform_update(self, serializer):
        serializer.instance = services.relationship_type_update(
            context=api_context(self.request),
            relationship_type_id=serializer.instance.pk,
            data=serializer.validated_data,
        )

    def perform_destroy(self, instance):
        services.relationship_type_delete(
            context=api_context(self.request), relationship_type_id=instance.pk
        )


class RelationshipViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Directional links between CIs. A duplicate answers 400."""

    queryset = Relationship.objects.select_related("type")
    serializer_class = s.RelationshipSerializer
    filterset_class = RelationshipFilterSet
    ordering_fields = ["id", "created"]

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rel = services.relationship_create(
            context=api_context(request), **serializer.validated_data
        )
        return Response(self.get_serializer(rel).data, status=status.HTTP_201_CREATED)

    def destroy(self, request, *args, **kwargs):
        rel = get_object_or_404(
            Relationship.objects.select_related("source", "target", "type"), pk=kwargs["pk"]
        )
        services.relationship_delete(context=api_context(request), relationship=rel)
        return Response(status=status.HTTP_204_NO_CONTENT)
