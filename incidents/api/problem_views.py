"""REST endpoints of problems, known errors and the reports (trends, root-cause comparison).
Thin: validate with a serializer, call a service or selector."""

from __future__ import annotations

import csv
import io

from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAuthenticated
from rest_framework.renderers import BaseRenderer, BrowsableAPIRenderer, JSONRenderer
from rest_framework.response import Response

from cmdb.models import CIType, ConfigurationItem
from itsm.audit import ChangeContext
from itsm.choices import ChangeSource
from itsm.permissions import HasPerm

from .. import analysis, problem_selectors, problem_services, trends
from ..models import Incident
from ..problem_filtersets import KnownErrorFilterSet, ProblemFilterSet
from . import problem_serializers as s


def api_context(request, reason: str = "") -> ChangeContext:
    return ChangeContext(actor=request.user, source=ChangeSource.API, reason=reason)


class ProblemViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Problems: create from incidents, then the workflow actions (`link`, `investigate`,
    `cause`, `publish`, `resolve`, `close`, `cancel`) and the root-cause `analysis`."""

    serializer_class = s.ProblemSerializer
    filterset_class = ProblemFilterSet
    ordering_fields = ["number", "created", "updated", "priority", "status"]
    extra_query_params: tuple[str, ...] = ()
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return problem_selectors.problem_detail_queryset().prefetch_related(
            Prefetch("incidents", queryset=Incident.objects.only("id"))
        )

    def _done(self, problem, code=status.HTTP_200_OK):
        problem = self.get_queryset().get(pk=problem.pk)
        return Response(self.get_serializer(problem).data, status=code)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        data.pop("version", None)
        problem = problem_services.problem_create(context=api_context(request), **data)
        return self._done(problem, status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        problem = self.get_object()
        serializer = self.get_serializer(problem, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        version = data.pop("version", None)
        if "incidents" in data:
            raise ValidationError({"incidents": ["Link incidents with the link action."]})
        problem = problem_services.problem_update(
            context=api_context(request), problem_id=problem.pk, data=data, expected_version=version
        )
        return self._done(problem)

    def _body(self, serializer_class):
        body = serializer_class(data=self.request.data)
        body.is_valid(raise_exception=True)
        return body.validated_data

    @extend_schema(request=s.ProblemLinkSerializer, responses=s.ProblemSerializer)
    @action(detail=True, methods=["post"], permission_classes=[HasPerm("incidents.change_problem")])
    def link(self, request, pk=None):
        """Link incidents (`incidents`) and unlink others (`unlink`)."""
        problem = self.get_object()
        body = self._body(s.ProblemLinkSerializer)
        problem = problem_services.problem_link_incidents(
            context=api_context(request),
            problem_id=problem.pk,
            incidents=body.get("incidents", []),
            unlink=body.get("unlink", []),
        )
        return self._done(problem)

    @extend_schema(request=None, responses=s.ProblemSerializer)
    @action(detail=True, methods=["post"], permission_classes=[HasPerm("incidents.change_problem")])
    def investigate(self, request, pk=None):
        """Start (or restart) the investigation."""
        problem = problem_services.problem_start_investigation(
            context=api_context(request), problem_id=self.get_object().pk
        )
        return self._done(problem)

    @extend_schema(request=s.ProblemCauseSerializer, responses=s.ProblemSerializer)
    @action(detail=True, methods=["post"], permission_classes=[HasPerm("incidents.change_problem")])
    def cause(self, request, pk=None):
        """Record the root cause and workaround."""
        problem = self.get_object()
        body = self._body(s.ProblemCauseSerializer)
        problem = problem_services.problem_record_cause(
            context=api_context(request),
            problem_id=problem.pk,
            root_cause=body["root_cause"],
            workaround=body.get("workaround"),
            expected_version=body.get("version"),
        )
        return self._done(problem)

    @extend_schema(request=s.ProblemPublishSerializer, responses=s.KnownErrorSerializer)
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[HasPerm("incidents.change_problem", "incidents.add_knownerror")],
    )
    def publish(self, request, pk=None):
        """Record the diagnosis as a known error (published unless `"publish": false`)."""
        problem = self.get_object()
        body = self._body(s.ProblemPublishSerializer)
        known_error = problem_services.problem_publish_known_error(
            context=api_context(request), problem_id=problem.pk, **body
        )
        return Response(s.KnownErrorSerializer(known_error).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.ProblemResolveSerializer, responses=s.ProblemSerializer)
    @action(detail=True, methods=["post"], permission_classes=[HasPerm("incidents.change_problem")])
    def resolve(self, request, pk=None):
        """Resolve; with `resolve_incidents`, its open incidents too (or only `incidents`)."""
        problem = self.get_object()
        body = self._body(s.ProblemResolveSerializer)
        problem = problem_services.problem_resolve(
            context=api_context(request),
            problem_id=problem.pk,
            resolution=body["resolution"],
            resolve_incidents=body["resolve_incidents"],
            incident_ids=body.get("incidents"),
            resolution_method=body["resolution_method"],
            expected_version=body.get("version"),
        )
        return self._done(problem)

    @extend_schema(request=None, responses=s.ProblemSerializer)
    @action(detail=True, methods=["post"], permission_classes=[HasPerm("incidents.change_problem")])
    def close(self, request, pk=None):
        problem = problem_services.problem_close(
            context=api_context(request), problem_id=self.get_object().pk
        )
        return self._done(problem)

    @extend_schema(request=s.ProblemReasonSerializer, responses=s.ProblemSerializer)
    @action(detail=True, methods=["post"], permission_classes=[HasPerm("incidents.change_problem")])
    def cancel(self, request, pk=None):
        problem = self.get_object()
        body = self._body(s.ProblemReasonSerializer)
        problem = problem_services.problem_cancel(
            context=api_context(request, reason=body["reason"]), problem_id=problem.pk
        )
        return self._done(problem)

    @extend_schema(responses={200: dict})
    @action(
        detail=True,
        methods=["get"],
        filterset_class=None,
        ordering_fields=[],
        extra_query_params=["limit"],
        permission_classes=[
            HasPerm("incidents.view_problem", "cmdb.view_configurationitem"),
        ],
    )
    def analysis(self, request, pk=None):
        """What the CIs of the problem's incidents have in common that comparable unaffected
        CIs lack, ranked (shape of `reports/compare/`)."""
        problem = self.get_object()
        try:
            limit = min(max(int(request.query_params.get("limit", 50)), 1), 500)
        except ValueError:
            raise ValidationError({"limit": ["A number."]}) from None
        affected = problem_selectors.problem_affected_cis(problem)
        return Response(analysis.compare(affected=affected, limit=limit))


class KnownErrorPermission(BasePermission):
    """Staff with `view_knownerror` read every known error, end users with
    `view_published_knownerror` the published ones (the queryset narrows); writes need add/change."""

    def has_permission(self, request, view):
        user = request.user
        if not user or not user.is_authenticated:
            return False
        if request.method in SAFE_METHODS:
            return user.has_perm("incidents.view_knownerror") or user.has_perm(
                "incidents.view_published_knownerror"
            )
        if getattr(view, "action", None) == "create":
            return user.has_perm("incidents.add_knownerror")
        return user.has_perm("incidents.change_knownerror")


class KnownErrorViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """The known-error base: `?q=` full-text search; `suggest/` for the incident form."""

    serializer_class = s.KnownErrorSerializer
    filterset_class = KnownErrorFilterSet
    permission_classes = [KnownErrorPermission]
    ordering_fields = ["title", "created", "updated"]
    extra_query_params: tuple[str, ...] = ()
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return problem_selectors.known_errors_visible_to(self.request.user).prefetch_related(
            Prefetch("cis", queryset=ConfigurationItem.objects.only("id")),
            Prefetch("ci_types", queryset=CIType.objects.only("id", "slug")),
        )

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        known_error = problem_services.known_error_create(
            context=api_context(request), **serializer.validated_data
        )
        return Response(
            self.get_serializer(self.get_queryset().get(pk=known_error.pk)).data,
            status=status.HTTP_201_CREATED,
        )

    def update(self, request, *args, **kwargs):
        known_error = self.get_object()
        serializer = self.get_serializer(known_error, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        known_error = problem_services.known_error_update(
            context=api_context(request),
            known_error_id=known_error.pk,
            cis=data.pop("cis", None),
            ci_types=data.pop("ci_types", None),
            data=data,
        )
        return Response(self.get_serializer(self.get_queryset().get(pk=known_error.pk)).data)

    @extend_schema(
        parameters=[
            OpenApiParameter("title", str),
            OpenApiParameter("ci", int, many=True),
            OpenApiParameter("category", str),
        ],
        responses=s.KnownErrorSuggestionSerializer(many=True),
    )
    @action(
        detail=False,
        methods=["get"],
        filterset_class=None,
        ordering_fields=[],
        extra_query_params=["title", "ci", "category", "limit"],
        pagination_class=None,
    )
    def suggest(self, request):
        """Known errors that may explain an incident being logged (by text, CI, category)."""
        try:
            cis = [int(c) for c in request.query_params.getlist("ci") if c.strip()]
            limit = int(request.query_params.get("limit", 5))
        except ValueError:
            raise ValidationError({"ci": ["CI ids are numbers."]}) from None
        self.filter_queryset(self.get_queryset())  # refuses unknown parameters
        rows = problem_selectors.known_error_suggest(
            text=request.query_params.get("title", ""),
            cis=cis,
            category=request.query_params.get("category", ""),
            limit=limit,
            user=request.user,
        )
        return Response(s.KnownErrorSuggestionSerializer(rows, many=True).data)


class TrendCSVRenderer(BaseRenderer):
    """`?format=csv` on the trend report: one row per (period, group)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        out = io.StringIO()
        writer = csv.writer(out)
        if isinstance(data, dict) and "series" in data:
            writer.writerows(trends.report_csv_rows(data))
        elif isinstance(data, dict):
            for key, value in data.items():
                writer.writerow([key, value])
        return out.getvalue().encode("utf-8")


class ReportViewSet(viewsets.ViewSet):
    """Reports: incident trends and the root-cause comparison of any CI selection."""

    @extend_schema(parameters=[s.TrendQuerySerializer], responses={200: dict})
    @action(
        detail=False,
        methods=["get"],
        permission_classes=[IsAuthenticated, HasPerm("incidents.view_incident")],
        renderer_classes=[JSONRenderer, BrowsableAPIRenderer, TrendCSVRenderer],
    )
    def trends(self, request):
        """Counts per period for each group and which groups are rising (Mann-Kendall)."""
        allowed = set(s.TrendQuerySerializer().fields) | {"format"}
        unknown = sorted(set(request.query_params) - allowed)
        if unknown:
            raise ValidationError({name: ["Unknown query parameter."] for name in unknown})
        query = s.TrendQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        report = trends.trend_report(**query.validated_data)
        response = Response(report)
        if request.accepted_renderer.format == "csv":
            response["Content-Disposition"] = (
                f'attachment; filename="incident-trends-{report["group_by"]}-{report["period"]}.csv"'
            )
        return response

    @extend_schema(request=s.CompareSerializer, responses={200: dict})
    @action(
        detail=False,
        methods=["post"],
        permission_classes=[IsAuthenticated, HasPerm("cmdb.view_configurationitem")],
    )
    def compare(self, request):
        """What the affected CIs have in common that the baseline lacks, most distinctive
        first (Fisher's exact test per row)."""
        body = s.CompareSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        affected = analysis.ci_selection(body.validated_data["affected"], what="affected")
        baseline_spec = body.validated_data.get("baseline")
        baseline = (
            analysis.ci_selection(baseline_spec, what="baseline")
            if baseline_spec is not None
            else None
        )
        return Response(
            analysis.compare(
                affected=affected, baseline=baseline, limit=body.validated_data["limit"]
            )
        )
