"""REST endpoints of release management. Thin: validate with a serializer, call a service or
selector. Workflow moves and deployment control are actions on a release; the software
library and packages are in `library.py`, deployment targets in `targets.py`."""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from itsm.audit import ChangeContext
from itsm.choices import ChangeSource
from itsm.exceptions import ApplicationError
from itsm.permissions import HasPerm

from .. import selectors, services
from ..filtersets import ReleaseFilterSet
from ..models import (
    DeploymentTarget,
    ReadinessReview,
    Release,
)
from . import serializers as s


def api_context(request, reason: str = "") -> ChangeContext:
    """The change context of an API call: the token's or session's user, source `api`."""
    return ChangeContext(actor=request.user, source=ChangeSource.API, reason=reason)


def _perm(*perms: str) -> list:
    return [IsAuthenticated, HasPerm(*perms)]


MANAGE = _perm("releases.change_release")
CONTROL = _perm("releases.control_deployment")
READINESS_READ = _perm("releases.view_readinessreview")


class ReleaseViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Releases, their workflow moves and their deployment."""

    filterset_class = ReleaseFilterSet
    ordering_fields = ["number", "title", "status", "priority", "created", "updated", "id"]
    extra_query_params: tuple[str, ...] = ()
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def get_queryset(self):
        queryset = Release.objects.select_related("created_by").prefetch_related("changes")
        if self.action == "retrieve":
            queryset = queryset.prefetch_related("tasks", "test_results")
        return queryset

    def get_serializer_class(self):
        return s.ReleaseDetailSerializer if self.action == "retrieve" else s.ReleaseSerializer

    def _detail(self, release: Release) -> Response:
        return Response(s.ReleaseDetailSerializer(self.get_queryset().get(pk=release.pk)).data)

    @transaction.atomic
    def create(self, request, *args, **kwargs):
        body = s.ReleaseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        data.pop("version", None)
        change_ids = data.pop("change_ids", [])
        title = data.pop("title")
        context = api_context(request)
        release = services.release_create(context=context, title=title, **data)
        for change_id in change_ids:
            services.release_add_change(context=context, release_id=release.pk, change_id=change_id)
        return Response(
            s.ReleaseDetailSerializer(self.get_queryset().get(pk=release.pk)).data,
            status=status.HTTP_201_CREATED,
        )

    def update(self, request, *args, **kwargs):
        release = self.get_object()
        body = s.ReleaseSerializer(release, data=request.data, partial=kwargs.get("partial", False))
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        version = data.pop("version", None)
        if "change_ids" in data:
            raise ValidationError({"change_ids": ["Link RFCs with the changes/ action."]})
        release = services.release_update(
            context=api_context(request), release_id=release.pk, data=data, expected_version=version
        )
        return self._detail(release)

    # --- RFCs, plan, acceptance ---------------------------------------------------------

    @extend_schema(request=s.ChangeLinkSerializer, responses=s.ReleaseDetailSerializer)
    @action(detail=True, methods=["post"], permission_classes=MANAGE, filterset_class=None)
    def changes(self, request, pk=None):
        """Link an approved RFC: `{"change": id}` (anything not approved answers 400)."""
        body = s.ChangeLinkSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        release = services.release_add_change(
            context=api_context(request),
            release_id=self.get_object().pk,
            change_id=body.validated_data["change"],
        )
        return self._detail(release)

    @extend_schema(request=s.ChangeLinkSerializer, responses=s.ReleaseDetailSerializer)
    @action(
        detail=True,
        methods=["post"],
        url_path="remove-change",
        permission_classes=MANAGE,
        filterset_class=None,
    )
    def remove_change(self, request, pk=None):
        """Unlink an RFC: `{"change": id}`."""
        body = s.ChangeLinkSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        release = services.release_remove_change(
            context=api_context(request),
            release_id=self.get_object().pk,
            change_id=body.validated_data["change"],
        )
        return self._detail(release)

    @extend_schema(request=s.ReleaseTaskSerializer, responses={201: s.ReleaseTaskSerializer})
    @action(detail=True, methods=["post"], permission_classes=MANAGE, filterset_class=None)
    def tasks(self, request, pk=None):
        """Add a plan task: `{"title", "owner", "due", "resources"}`."""
        body = s.ReleaseTaskSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        task = services.release_task_add(
            context=api_context(request), release_id=self.get_object().pk, **body.validated_data
        )
        return Response(s.ReleaseTaskSerializer(task).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.TestResultSerializer, responses={201: s.TestResultSerializer})
    @action(
        detail=True,
        methods=["post"],
        url_path="test-results",
        permission_classes=MANAGE,
        filterset_class=None,
    )
    def test_results(self, request, pk=None):
        """Record an acceptance test: `{"name", "environment", "passed", "proves_backout",
        "notes"}`."""
        body = s.TestResultSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = services.test_result_record(
            context=api_context(request), release_id=self.get_object().pk, **body.validated_data
        )
        return Response(s.TestResultSerializer(result).data, status=status.HTTP_201_CREATED)

    # --- workflow moves -------------------------------------------------------------------

    def _move(self, request, service) -> Response:
        release = service(context=api_context(request), release_id=self.get_object().pk)
        return self._detail(release)

    @extend_schema(request=None, responses=s.ReleaseDetailSerializer)
    @action(detail=True, methods=["post"], url_path="start-build", permission_classes=MANAGE)
    def start_build(self, request, pk=None):
        """planning → build (needs an approved RFC)."""
        return self._move(request, services.release_to_build)

    @extend_schema(request=None, responses=s.ReleaseDetailSerializer)
    @action(detail=True, methods=["post"], url_path="back-to-planning", permission_classes=MANAGE)
    def back_to_planning(self, request, pk=None):
        """build → planning."""
        return self._move(request, services.release_to_planning)

    @extend_schema(request=None, responses=s.ReleaseDetailSerializer)
    @action(detail=True, methods=["post"], url_path="start-acceptance", permission_classes=MANAGE)
    def start_acceptance(self, request, pk=None):
        """build → acceptance (needs a package with install steps)."""
        return self._move(request, services.release_to_acceptance)

    @extend_schema(request=None, responses=s.ReleaseDetailSerializer)
    @action(detail=True, methods=["post"], url_path="start-readiness", permission_classes=MANAGE)
    def start_readiness(self, request, pk=None):
        """acceptance → readiness (needs the acceptance tests passed)."""
        return self._move(request, services.release_to_readiness)

    @extend_schema(request=None, responses=s.ReleaseDetailSerializer)
    @action(detail=True, methods=["post"], url_path="back-to-build", permission_classes=MANAGE)
    def back_to_build(self, request, pk=None):
        """acceptance or readiness → build."""
        return self._move(request, services.release_back_to_build)

    @extend_schema(request=None, responses=s.ReleaseDetailSerializer)
    @action(detail=True, methods=["post"], permission_classes=MANAGE)
    def close(self, request, pk=None):
        """deployed or backed out → closed; the RFCs move to review."""
        return self._move(request, services.release_close)

    # --- readiness ------------------------------------------------------------------------

    @extend_schema(methods=["get"], responses=s.ReadinessSerializer)
    @extend_schema(methods=["put"], request=s.ReadinessSerializer, responses=s.ReadinessSerializer)
    @action(detail=True, methods=["get", "put"], filterset_class=None, ordering_fields=[])
    def readiness(self, request, pk=None):
        """The Release Readiness Review: the checklist and the go / no-go (PUT: a Release
        Manager; `decision` is recorded after the checklist; `version` guards against a stale
        copy)."""
        release = self.get_object()
        if request.method == "PUT":
            if not request.user.has_perm("releases.decide_readiness"):
                from itsm.exceptions import PermissionDeniedError

                raise PermissionDeniedError("Only a Release Manager decides readiness.")
            body = s.ReadinessSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            data = dict(body.validated_data)
            context = api_context(request)
            with transaction.atomic():
                checklist = {k: data[k] for k in ReadinessReview.CHECKLIST if k in data}
                services.readiness_update(
                    context=context,
                    release_id=release.pk,
                    checklist=checklist,
                    notes=data.get("notes"),
                    expected_version=data.get("version"),
                )
                if data.get("decision"):
                    services.readiness_decide(
                        context=context, release_id=release.pk, decision=data["decision"]
                    )
        review = services.readiness_get(release)
        return Response(s.ReadinessSerializer(review).data)

    # --- deployment -----------------------------------------------------------------------

    def _progress(self, release: Release, code: int = status.HTTP_200_OK) -> Response:
        return Response(selectors.release_progress(release), status=code)

    @extend_schema(request=s.DeploySerializer, responses={201: dict})
    @action(detail=True, methods=["post"], permission_classes=CONTROL)
    def deploy(self, request, pk=None):
        """Start the deployment: `{"executor": "agent"|"simulated", "simulation":
        {"failure_rate", "step_delay_ms"}, "waves": [...]}` (optional wave plan). Needs a
        "go"; a second start while one runs answers 409."""
        body = s.DeploySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        release = self.get_object()
        services.deployment_start(
            context=api_context(request),
            release_id=release.pk,
            executor=body.validated_data["executor"],
            simulation=body.validated_data.get("simulation"),
            waves=body.validated_data.get("waves"),
        )
        return self._progress(release, status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=dict)
    @action(detail=True, methods=["post"], permission_classes=CONTROL)
    def pause(self, request, pk=None):
        """Stop new claims; running steps finish."""
        release = self.get_object()
        services.deployment_pause(context=api_context(request), release_id=release.pk)
        return self._progress(release)

    @extend_schema(request=None, responses=dict)
    @action(detail=True, methods=["post"], permission_classes=CONTROL)
    def resume(self, request, pk=None):
        """Resume a paused or halted deployment."""
        release = self.get_object()
        services.deployment_resume(context=api_context(request), release_id=release.pk)
        return self._progress(release)

    def _end(self, request, service) -> Response:
        body = s.EndSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        release = self.get_object()
        service(
            context=api_context(request),
            release_id=release.pk,
            reason=body.validated_data.get("reason", ""),
        )
        return self._progress(release)

    @extend_schema(request=s.EndSerializer, responses=dict)
    @action(detail=True, methods=["post"], permission_classes=CONTROL)
    def cancel(self, request, pk=None):
        """Cancel the deployment (`{"reason"}` optional): running steps finish, nothing new
        starts. Nothing changed: the release is back in readiness on its "go"; otherwise it
        stays deploying until the changed targets are backed out."""
        return self._end(request, services.deployment_cancel)

    @extend_schema(request=s.EndSerializer, responses=dict)
    @action(detail=True, methods=["post"], permission_classes=CONTROL)
    def fail(self, request, pk=None):
        """Mark a halted or paused deployment failed: `{"reason"}` (required). It ends like a
        cancel, and a release that changed nothing needs a new "go"."""
        return self._end(request, services.deployment_fail)

    @extend_schema(request=s.WindowSerializer, responses=dict)
    @action(detail=True, methods=["post"], permission_classes=CONTROL)
    def window(self, request, pk=None):
        """Give the deployment under way a new window: `{"window_start", "window_end"}` (ISO
        8601; null or left out: open). Outside its window, it resumes by itself when the new
        one opens."""
        body = s.WindowSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        release = self.get_object()
        services.deployment_set_window(
            context=api_context(request),
            release_id=release.pk,
            window_start=body.validated_data.get("window_start"),
            window_end=body.validated_data.get("window_end"),
        )
        return self._progress(release)

    @extend_schema(request=s.BackoutSerializer, responses=dict)
    @action(
        detail=True,
        methods=["post"],
        filterset_class=None,
        # Who may back out what is the service's rule: a target needs
        # releases.change_deploymentstep, a wave or the whole release control_deployment.
        permission_classes=_perm("releases.view_release"),
    )
    def backout(self, request, pk=None):
        """Back out the whole release (`{}`), a wave (`{"wave": id}`, Release Manager) or a
        target (`{"target": id}`, Deployment Technician too)."""
        body = s.BackoutSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        release = self.get_object()
        target_id = body.validated_data.get("target")
        if (
            target_id is not None
            and not DeploymentTarget.objects.filter(
                pk=target_id, deployment__release=release
            ).exists()
        ):
            raise ApplicationError("No such target in this release's deployment.")
        services.deployment_backout(
            context=api_context(request),
            release_id=release.pk,
            wave_id=body.validated_data.get("wave"),
            target_id=target_id,
        )
        return self._progress(release)

    @extend_schema(request=s.WaveTechnicianSerializer, responses=dict)
    @action(detail=True, methods=["post"], permission_classes=CONTROL, filterset_class=None)
    def assign(self, request, pk=None):
        """Put a Deployment Technician (or Release Manager) in charge of a wave that has not
        finished: `{"wave": id, "technician": "<username>"|null}`. An unknown user or one
        without either role answers 400 and changes nothing."""
        body = s.WaveTechnicianSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        release = self.get_object()
        services.wave_assign_technician(
            context=api_context(request),
            wave_id=body.validated_data["wave"],
            technician=body.validated_data["technician"],
            release_id=release.pk,
        )
        return self._progress(release)

    @extend_schema(request=s.SignOffSerializer, responses=dict)
    @action(
        detail=True,
        methods=["post"],
        url_path="sign-off",
        permission_classes=_perm("releases.sign_off_wave"),
    )
    def sign_off(self, request, pk=None):
        """Open a wave's manual gate (or override a halted one): `{"wave": id, "note"}`."""
        body = s.SignOffSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        release = self.get_object()
        wave_id = body.validated_data["wave"]
        if not release.deployments.filter(waves__pk=wave_id).exists():
            raise ApplicationError("No such wave in this release's deployment.")
        services.wave_sign_off(
            context=api_context(request), wave_id=wave_id, note=body.validated_data.get("note", "")
        )
        return self._progress(release)

    @extend_schema(
        parameters=[OpenApiParameter("targets", int, description="targets listed per wave")],
        responses=dict,
    )
    @action(
        detail=True,
        methods=["get"],
        filterset_class=None,
        ordering_fields=[],
        extra_query_params=("targets",),
    )
    def progress(self, request, pk=None):
        """`{"status", "percent", "waves": [{"name", "status", "percent", "targets": [{"ci",
        "state", "steps": [{"name", "state", "attempt", "log"}]}]}]}`: a fixed number of
        queries; at most `?targets=` targets per wave (default 50, max 500, failing first),
        with `target_count` and `counts` per state for all of them."""
        try:
            cap = int(request.query_params.get("targets", selectors.DEFAULT_TARGETS_PER_WAVE))
        except ValueError:
            raise ValidationError({"targets": ["An integer."]}) from None
        release = self.get_object()
        return Response(selectors.release_progress(release, targets_per_wave=cap))

    @extend_schema(responses=dict)
    @action(detail=True, methods=["get"], filterset_class=None, ordering_fields=[])
    def log(self, request, pk=None):
        """The release log (newest first, 200 entries) and its deployment's latest events."""
        release = self.get_object()
        entries = selectors.release_log(release)[:200]
        deployment = selectors.latest_deployment(release)
        events = selectors.deployment_events(deployment) if deployment else []
        return Response(
            {
                "entries": [
                    {
                        "at": e.at,
                        "actor": e.actor_name,
                        "source": e.source,
                        "kind": e.kind,
                        "changes": e.changes,
                        "reason": e.reason,
                    }
                    for e in entries
                ],
                "events": [
                    {
                        "at": e.at,
                        "object": e.object_type,
                        "id": e.object_id,
                        "from": e.from_state,
                        "to": e.to_state,
                        "message": e.message,
                    }
                    for e in events
                ],
            }
        )
