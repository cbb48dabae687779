"""REST endpoints of incident management. Thin: validate with a serializer, call a service or
selector, shape the answer.

Who may do what is `ACTION_PERMISSIONS` (any one of the alternatives suffices); which rows a
user sees is `selectors.incidents_visible_to` (an end user: only their own — another's is a
404); the services check the rest (an end user may confirm or reopen only their own).
"""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from cmdb.history import ChangeContext
from itsm.choices import ChangeSource

from .. import selectors, services
from ..choices import Source
from ..filtersets import IncidentFilterSet
from ..models import Incident, QuickLogTemplate, SlaPolicy
from . import serializers as s
from .representations import incident_representation

MAX_BULK_ITEMS = 1000


def api_context(request, reason: str = "") -> ChangeContext:
    """The change context of an API call: the token's or session's user, source `api`."""
    return ChangeContext(actor=request.user, source=ChangeSource.API, reason=reason)


VIEW = "incidents.view_incident"
REPORT = "incidents.report_incident"
CHANGE = "incidents.change_incident"

#: action → alternatives, each a tuple of permissions that together allow it.
ACTION_PERMISSIONS: dict[str, list[tuple[str, ...]]] = {
    "list": [(VIEW,), (REPORT,)],
    "retrieve": [(VIEW,), (REPORT,)],
    "create": [("incidents.add_incident",), (REPORT,)],
    "partial_update": [(CHANGE,)],
    "assign": [(CHANGE,)],
    "start": [(CHANGE,)],
    "hold": [(CHANGE,)],
    "resume": [(CHANGE,)],
    "link": [(CHANGE,)],
    "resolve": [("incidents.resolve_incident",)],
    "close": [("incidents.resolve_incident",)],
    "escalate": [("incidents.escalate_incident",)],
    "confirm": [(CHANGE,), (REPORT,)],
    "reopen": [(CHANGE,), (REPORT,)],
    "worklog": [(VIEW,), (REPORT,)],
    "timeline": [(VIEW,), (REPORT,)],
    "quick_log": [("incidents.add_incident", "incidents.resolve_incident")],
    "my_devices": [(VIEW,), (REPORT,)],
}


class IncidentPermission(BasePermission):
    """Deny by default: an action not in ACTION_PERMISSIONS is refused."""

    def has_permission(self, request, view):
        user = request.user
        if not user or not user.is_authenticated:
            return False
        alternatives = ACTION_PERMISSIONS.get(view.action or "", [])
        if view.action == "worklog" and request.method == "POST":
            alternatives = [(CHANGE,), (REPORT,)]
        return any(user.has_perms(perms) for perms in alternatives)


class IncidentViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Incidents. POST a list to log many at once (all or nothing); PATCH with the `version`
    read (409 when stale); workflow moves are actions."""

    serializer_class = s.IncidentSerializer
    filterset_class = IncidentFilterSet
    permission_classes = [IncidentPermission]
    ordering_fields = [
        "number",
        "priority",
        "status",
        "created",
        "updated",
        "response_due",
        "resolve_due",
        "id",
    ]
    ordering = ["-created", "-id"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        queryset = selectors.incident_list_queryset(self.request.user)
        if self.action != "list":
            queryset = queryset.prefetch_related("related")
        return queryset

    def _out(self, incident: Incident) -> dict:
        return incident_representation(incident, now=timezone.now())

    def _out_many(self, incidents) -> list[dict]:
        now = timezone.now()
        return [incident_representation(incident, now=now) for incident in incidents]

    @extend_schema(responses=s.IncidentSerializer(many=True))
    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset()).prefetch_related("related")
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self._out_many(page))

    @extend_schema(responses=s.IncidentSerializer)
    def retrieve(self, request, *args, **kwargs):
        return Response(self._out(self.get_object()))

    def _fresh(self, incident: Incident) -> Incident:
        return self.get_queryset().prefetch_related("related").get(pk=incident.pk)

    def _source(self, request) -> str:
        if request.user.has_perm("incidents.add_incident"):
            return Source.API
        return Source.PORTAL

    @extend_schema(request=s.IncidentCreateSerializer, responses={201: s.IncidentSerializer})
    def create(self, request, *args, **kwargs):
        context = api_context(request)
        if isinstance(request.data, list):
            if not request.data:
                raise ValidationError({"non_field_errors": ["Send at least one item."]})
            if len(request.data) > MAX_BULK_ITEMS:
                raise ValidationError(
                    {"non_field_errors": [f"At most {MAX_BULK_ITEMS} items per request."]}
                )
            body = s.IncidentCreateSerializer(data=request.data, many=True)
            body.is_valid(raise_exception=True)
            created = services.incident_bulk_open(
                context=context, items=body.validated_data, source=self._source(request)
            )
            return Response(self._out_many(created), status=201)
        body = s.IncidentCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        incident = services.incident_open(
            context=context, source=self._source(request), **dict(body.validated_data)
        )
        return Response(self._out(incident), status=status.HTTP_201_CREATED)

    @extend_schema(request=s.IncidentUpdateSerializer, responses=s.IncidentSerializer)
    def partial_update(self, request, *args, **kwargs):
        incident = self.get_object()
        body = s.IncidentUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        version = data.pop("version")
        incident = services.incident_update(
            context=api_context(request), incident=incident, data=data, expected_version=version
        )
        return Response(self._out(self._fresh(incident)))

    def update(self, request, *args, **kwargs):
        if not kwargs.get("partial"):
            return Response(status=status.HTTP_405_METHOD_NOT_ALLOWED)
        return self.partial_update(request, *args, **kwargs)

    def _act(self, request, body_class, service, **fixed):
        """Validate the body, call the service on the incident, answer the incident."""
        incident = self.get_object()
        body = body_class(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        version = data.pop("version", None)
        reason = data.get("reason", "")
        incident = service(
            context=api_context(request, reason=reason),
            incident=incident,
            expected_version=version,
            **data,
            **fixed,
        )
        return Response(self._out(self._fresh(incident)))

    @extend_schema(request=s.AssignSerializer, responses=s.IncidentSerializer)
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        """Assign to a person and/or group: `{"assignee": id, "group": id, "note": "…"}`."""
        return self._act(request, s.AssignSerializer, services.incident_assign)

    @extend_schema(request=s.VersionedSerializer, responses=s.IncidentSerializer)
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        """Start work (in progress)."""
        return self._act(request, s.VersionedSerializer, services.incident_start)

    @extend_schema(request=s.ReasonSerializer, responses=s.IncidentSerializer)
    @action(detail=True, methods=["post"])
    def hold(self, request, pk=None):
        """Put on hold (the SLA clock stops): `{"reason": "…"}`."""
        return self._act(request, s.ReasonSerializer, services.incident_hold)

    @extend_schema(request=s.VersionedSerializer, responses=s.IncidentSerializer)
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        """Back in progress after a hold (due times move by the time on hold)."""
        return self._act(request, s.VersionedSerializer, services.incident_resume)

    @extend_schema(request=s.ResolveSerializer, responses=s.IncidentSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        """Resolve: `{"resolution_method", "resolution", "cause"?}` (a resolution is required)."""
        incident = self.get_object()
        body = s.ResolveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        incident = services.incident_resolve(
            context=api_context(request),
            incident=incident,
            resolution_method=data["resolution_method"],
            resolution=data["resolution"],
            cause=data.get("cause") or None,
            expected_version=data.get("version"),
        )
        return Response(self._out(self._fresh(incident)))

    @extend_schema(request=s.VersionedSerializer, responses=s.IncidentSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        """Close a resolved incident."""
        return self._act(request, s.VersionedSerializer, services.incident_close)

    @extend_schema(request=s.VersionedSerializer, responses=s.IncidentSerializer)
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        """The caller confirms the resolution (closed)."""
        return self._act(request, s.VersionedSerializer, services.incident_confirm)

    @extend_schema(request=s.ReasonSerializer, responses=s.IncidentSerializer)
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        """Reopen a resolved incident (or a closed one within INCIDENT_REOPEN_DAYS)."""
        return self._act(request, s.ReasonSerializer, services.incident_reopen)

    @extend_schema(request=s.EscalateSerializer, responses=s.IncidentSerializer)
    @action(detail=True, methods=["post"])
    def escalate(self, request, pk=None):
        """Escalate: `{"reason", "assignee"?, "group"?, "raise_priority"?}`."""
        return self._act(request, s.EscalateSerializer, services.incident_escalate)

    @extend_schema(request=s.LinkSerializer, responses=s.IncidentSerializer)
    @action(detail=True, methods=["post"])
    def link(self, request, pk=None):
        """Relate another incident: `{"related": id}` (both ways)."""
        incident = self.get_object()
        body = s.LinkSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        related = Incident.objects.filter(pk=body.validated_data["related"]).first()
        if related is None:
            raise ValidationError({"related": ["Unknown incident."]})
        services.incident_link(context=api_context(request), incident=incident, related=related)
        return Response(self._out(self._fresh(incident)))

    @extend_schema(request=s.WorkLogSerializer, responses=s.WorkLogSerializer(many=True))
    @action(detail=True, methods=["get", "post"], filterset_class=None, ordering_fields=[])
    def worklog(self, request, pk=None):
        """The work log (end users: public notes only); POST a note
        `{"note", "minutes"?, "public"?}` (end users: public comments)."""
        incident = self.get_object()
        if request.method == "POST":
            body = s.WorkLogSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            entry = services.worklog_add(
                context=api_context(request), incident=incident, **body.validated_data
            )
            data = s.WorkLogSerializer(entry).data
            data["public"] = entry.public
            return Response(data, status=status.HTTP_201_CREATED)
        notes = incident.worklog.all()
        if not selectors.is_staff_reader(request.user):
            notes = notes.filter(visibility="public")
        page = self.paginate_queryset(notes)
        rows = [{**s.WorkLogSerializer(n).data, "public": n.public} for n in page]
        return self.get_paginated_response(rows)

    @extend_schema(responses=s.TimelineItemSerializer(many=True))
    @action(detail=True, methods=["get"], filterset_class=None, ordering_fields=[])
    def timeline(self, request, pk=None):
        """Every event, newest first: changes (who, when, what, through which interface, why)
        and work log notes (end users: the public ones and the status moves)."""
        incident = self.get_object()
        items = selectors.incident_timeline(
            incident, public_only=not selectors.is_staff_reader(request.user)
        )
        return Response(s.TimelineItemSerializer(items, many=True).data)

    @extend_schema(request=s.QuickLogSerializer, responses={201: s.IncidentSerializer})
    @action(detail=False, methods=["post"], url_path="quick-log", filterset_class=None)
    def quick_log(self, request):
        """Log and resolve a trivial incident from a template in one step."""
        body = s.QuickLogSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        incident = services.incident_quick_log(context=api_context(request), **body.validated_data)
        return Response(self._out(self._fresh(incident)), status=201)

    @extend_schema(responses=s.DeviceSerializer(many=True))
    @action(
        detail=False,
        methods=["get"],
        url_path="my-devices",
        filterset_class=None,
        ordering_fields=[],
    )
    def my_devices(self, request):
        """The CIs the requesting user owns or holds a role for (offered when reporting)."""
        unknown = sorted(set(request.query_params) - {"page", "page_size", "format"})
        if unknown:
            raise ValidationError({name: ["Unknown query parameter."] for name in unknown})
        page = self.paginate_queryset(selectors.user_devices(request.user))
        return self.get_paginated_response(s.DeviceSerializer(page, many=True).data)


class QuickLogTemplateViewSet(viewsets.ReadOnlyModelViewSet):
    """The active quick-log templates (edited in the admin)."""

    queryset = QuickLogTemplate.objects.filter(active=True)
    serializer_class = s.QuickLogTemplateSerializer
    filterset_class = None
    ordering_fields = ["position", "name"]


class SlaPolicyViewSet(viewsets.ReadOnlyModelViewSet):
    """SLA policies per priority (and CI type, department): read for IT staff; edited in the
    admin."""

    queryset = SlaPolicy.objects.select_related("calendar")
    serializer_class = s.SlaPolicySerializer
    filterset_class = None
    ordering_fields = ["priority", "name"]
