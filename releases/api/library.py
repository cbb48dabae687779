"""REST endpoints of the definitive software library and release packages: artifacts are
added, never changed; packages carry their install, verify and backout steps."""

from __future__ import annotations

from django.http import FileResponse
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from itsm.exceptions import ApplicationError
from itsm.parsers import SafeJSONParser

from .. import services
from ..filtersets import ArtifactFilterSet, PackageFilterSet
from ..models import ReleasePackage, SoftwareArtifact
from . import serializers as s
from .views import _perm, api_context


class ArtifactViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """The definitive software library. Artifacts are added (multipart upload or JSON
    reference), never changed: no PUT, PATCH or DELETE — a new version is a new artifact."""

    queryset = SoftwareArtifact.objects.all()
    serializer_class = s.ArtifactSerializer
    filterset_class = ArtifactFilterSet
    ordering_fields = ["name", "version", "created", "id"]
    parser_classes = [SafeJSONParser, MultiPartParser, FormParser]
    http_method_names = ["get", "post", "head", "options"]

    def create(self, request, *args, **kwargs):
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        artifact = services.artifact_create(context=api_context(request), **body.validated_data)
        return Response(self.get_serializer(artifact).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    @action(detail=True, methods=["get"], filterset_class=None, ordering_fields=[])
    def download(self, request, pk=None):
        """The artifact's bytes (its SHA-256 in the `X-Checksum-SHA256` header)."""
        artifact = self.get_object()
        if not artifact.file:
            raise ApplicationError("This artifact is a reference: fetch it from its URL.")
        response = FileResponse(artifact.file.open("rb"), as_attachment=True)
        response["X-Checksum-SHA256"] = artifact.sha256
        return response


class PackageViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Release packages: artifacts and their install, verify and backout steps."""

    queryset = ReleasePackage.objects.prefetch_related("artifacts", "steps")
    serializer_class = s.PackageSerializer
    filterset_class = PackageFilterSet
    ordering_fields = ["name", "version", "created", "id"]
    http_method_names = ["get", "post", "put", "head", "options"]

    def create(self, request, *args, **kwargs):
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        package = services.package_create(context=api_context(request), **data)
        return Response(
            self.get_serializer(self.get_queryset().get(pk=package.pk)).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(request=s.StepsSerializer, responses=s.PackageSerializer)
    @action(
        detail=True,
        methods=["put"],
        permission_classes=_perm("releases.change_releasepackage"),
        filterset_class=None,
    )
    def steps(self, request, pk=None):
        """Replace the package's steps (409 once deployed: make a new version)."""
        body = s.StepsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        package = services.package_set_steps(
            context=api_context(request),
            package_id=self.get_object().pk,
            steps=body.validated_data["steps"],
        )
        return Response(self.get_serializer(self.get_queryset().get(pk=package.pk)).data)
