"""REST endpoints of deployment targets: list and read them (`?mine=true`: the caller's), retry
or back one out, and put a technician in charge of one."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from .. import services
from ..filtersets import TargetFilterSet
from ..models import DeploymentTarget
from . import serializers as s
from .views import CONTROL, _perm, api_context


class TargetViewSet(viewsets.ReadOnlyModelViewSet):
    """Deployment targets (a CI in a wave). A Release Manager acts on any; a Deployment
    Technician retries or backs out his own (assigned to him, or of a CI he owns) and those
    nobody is assigned to — another's answers 403. `?mine=true`: the caller's targets."""

    queryset = DeploymentTarget.objects.select_related("technician", "wave__technician")
    serializer_class = s.TargetSerializer
    filterset_class = TargetFilterSet
    ordering_fields = ["id", "state", "finished_at"]

    def _answer(self, target: DeploymentTarget) -> Response:
        return Response(s.TargetSerializer(self.get_queryset().get(pk=target.pk)).data)

    @extend_schema(request=None, responses=s.TargetSerializer)
    @action(
        detail=True, methods=["post"], permission_classes=_perm("releases.change_deploymentstep")
    )
    def retry(self, request, pk=None):
        """Retry a failed or lost target (its failed or lost step, attempt + 1)."""
        target = services.target_retry(context=api_context(request), target_id=self.get_object().pk)
        return self._answer(target)

    @extend_schema(request=None, responses=s.TargetSerializer)
    @action(
        detail=True, methods=["post"], permission_classes=_perm("releases.change_deploymentstep")
    )
    def backout(self, request, pk=None):
        """Back out this target: the package's backout steps, then the CMDB restored."""
        target = services.target_backout(
            context=api_context(request), target_id=self.get_object().pk
        )
        return self._answer(target)

    @extend_schema(request=s.TechnicianSerializer, responses=s.TargetSerializer)
    @action(detail=True, methods=["post"], permission_classes=CONTROL, filterset_class=None)
    def assign(self, request, pk=None):
        """Put a technician in charge of this target alone, overriding its wave's:
        `{"technician": "<username>"}` (null or "": its wave's technician again)."""
        body = s.TechnicianSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        target = services.target_assign_technician(
            context=api_context(request),
            target_id=self.get_object().pk,
            technician=body.validated_data["technician"],
        )
        return self._answer(target)
