"""REST endpoints of change management. Thin: validate with a serializer, call a service or a
selector, shape the answer. Refused moves come back from the services as 400/403/409.

Who may call what (the services check it again): any role reads; Service Desk and Change
Manager raise RFCs (`add_change`) and act on their own drafts; CAB members (and owners of the
CIs, for RFCs a rule sends to them) vote and ask for information; Change Managers schedule,
close and run CAB meetings; Change and Release Managers record implementation and review.
"""

from __future__ import annotations

from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from itsm.audit import ChangeContext
from itsm.choices import ChangeSource
from itsm.parsers import SafeJSONParser
from itsm.permissions import HasPerm

from .. import selectors, services
from ..filtersets import BlackoutFilterSet, CabMeetingFilterSet, ChangeFilterSet, TemplateFilterSet
from ..models import (
    ApprovalBody,
    ApprovalRule,
    Blackout,
    CabAgendaItem,
    CabMeeting,
    Change,
    StandardChangeTemplate,
)
from . import serializers as s

VIEW = HasPerm("changes.view_change")


def api_context(request, reason: str = "") -> ChangeContext:
    """The change context of an API call: the token's or session's user, source `api`."""
    return ChangeContext(actor=request.user, source=ChangeSource.API, reason=reason)


def _may_vote(user, change: Change) -> bool:
    return user.has_perm("changes.vote_change") or change.cis.filter(owner=user).exists()


class ChangeViewSet(viewsets.ModelViewSet):
    """Requests for change (RFCs): drafts are created and edited here, then moved through the
    workflow actions."""

    serializer_class = s.ChangeSerializer
    filterset_class = ChangeFilterSet
    lookup_value_regex = r"\d+"
    extra_query_params: tuple[str, ...] = ()
    ordering_fields = ["number", "created", "updated", "planned_start", "priority", "risk_score"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return selectors.change_list_queryset()

    def _answer(self, change: Change, code: int = status.HTTP_200_OK, **extra) -> Response:
        data = dict(self.get_serializer(self.get_queryset().get(pk=change.pk)).data)
        data.update(extra)
        return Response(data, status=code)

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("version", None)
        cis = data.pop("cis", [])
        serializer.instance = services.change_create(
            context=api_context(self.request), title=data.pop("title"), cis=cis, **data
        )

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.perform_create(serializer)
        return self._answer(serializer.instance, status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        change = self.get_object()
        serializer = self.get_serializer(change, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        version = data.pop("version", None)
        cis = data.pop("cis", None)
        change = services.change_update(
            context=api_context(request),
            change=change,
            data=data,
            cis=cis,
            expected_version=version,
        )
        return self._answer(change)

    def destroy(self, request, *args, **kwargs):
        services.change_delete(context=api_context(request), change=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    # --- workflow ---------------------------------------------------------------------

    @extend_schema(request=None, responses=s.ChangeSerializer)
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[IsAuthenticated, HasPerm("changes.add_change")],
    )
    def submit(self, request, pk=None):
        """Submit a draft: impact and risk computed, the approval rule applied."""
        change = services.change_submit(context=api_context(request), change=self.get_object())
        return self._answer(change, conflicts=_conflicts_json(change))

    @extend_schema(request=s.CommentSerializer, responses=s.ChangeSerializer)
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[IsAuthenticated, HasPerm("changes.add_change")],
    )
    def resubmit(self, request, pk=None):
        """Send the RFC back to its approvers after a request for information."""
        change = self.get_object()
        services.require_originator_or_manager(api_context(request), change)
        body = s.CommentSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        change = services.change_resubmit(
            context=api_context(request), change=change, comment=body.validated_data["comment"]
        )
        return self._answer(change)

    @extend_schema(request=s.VoteInSerializer, responses=s.VoteSerializer(many=True))
    @action(
        detail=True,
        methods=["get", "post"],
        permission_classes=[IsAuthenticated, VIEW],
        filterset_class=None,
        ordering_fields=[],
    )
    def votes(self, request, pk=None):
        """The votes on the RFC (every round); `POST {"decision": "approve"|"reject",
        "comment"}` votes in the current round."""
        change = self.get_object()
        if request.method == "POST":
            if not _may_vote(request.user, change):
                self.permission_denied(request, message="Only members of the approving body vote.")
            body = s.VoteInSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            vote = services.change_vote(
                context=api_context(request), change=change, **body.validated_data
            )
            change.refresh_from_db()
            return Response(
                {**s.VoteSerializer(vote).data, "change_status": change.status},
                status=status.HTTP_201_CREATED,
            )
        votes = change.votes.select_related("voter").order_by("round", "at", "id")
        page = self.paginate_queryset(votes)
        return self.get_paginated_response(s.VoteSerializer(page, many=True).data)

    @extend_schema(request=s.CommentSerializer, responses=s.ChangeSerializer)
    @action(
        detail=True,
        methods=["post"],
        url_path="request-info",
        permission_classes=[IsAuthenticated, VIEW],
    )
    def request_info(self, request, pk=None):
        """An approver asks the requester for information: `{"comment"}`."""
        change = self.get_object()
        if not (request.user.has_perm("changes.manage_change") or _may_vote(request.user, change)):
            self.permission_denied(request, message="Only approvers ask for information.")
        body = s.CommentSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        change = services.change_request_info(
            context=api_context(request), change=change, comment=body.validated_data["comment"]
        )
        return self._answer(change)

    @extend_schema(request=s.ScheduleSerializer, responses=s.ChangeSerializer)
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[IsAuthenticated, HasPerm("changes.manage_change")],
    )
    def schedule(self, request, pk=None):
        """Put an approved RFC on the calendar: `{"start", "end", "override_reason",
        "implementer"}`; the answer lists the conflicts of the new window."""
        change = self.get_object()
        body = s.ScheduleSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        change = services.change_schedule(
            context=api_context(request), change=change, **body.validated_data
        )
        return self._answer(change, conflicts=_conflicts_json(change))

    @extend_schema(request=s.NoteSerializer, responses=s.ChangeSerializer)
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[IsAuthenticated, HasPerm("changes.implement_change")],
    )
    def implement(self, request, pk=None):
        """Record the RFC as implemented: `{"note"}`."""
        change = self.get_object()
        body = s.NoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        change = services.change_implement(
            context=api_context(request), change=change, note=body.validated_data["note"]
        )
        return self._answer(change)

    @extend_schema(request=s.ReviewSerializer, responses=s.ChangeSerializer)
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[IsAuthenticated, HasPerm("changes.implement_change")],
    )
    def review(self, request, pk=None):
        """Post-implementation review: `{"outcome", "notes", "incidents": [ids]}`."""
        change = self.get_object()
        body = s.ReviewSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        change = services.change_review(
            context=api_context(request), change=change, **body.validated_data
        )
        return self._answer(change)

    @extend_schema(request=s.NoteSerializer, responses=s.ChangeSerializer)
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[IsAuthenticated, HasPerm("changes.manage_change")],
    )
    def close(self, request, pk=None):
        """Close a reviewed RFC."""
        change = self.get_object()
        body = s.NoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        change = services.change_close(
            context=api_context(request), change=change, note=body.validated_data["note"]
        )
        return self._answer(change)

    @extend_schema(request=s.CancelSerializer, responses=s.ChangeSerializer)
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[IsAuthenticated, HasPerm("changes.add_change")],
    )
    def cancel(self, request, pk=None):
        """Cancel an open RFC: `{"reason"}`."""
        change = self.get_object()
        body = s.CancelSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        change = services.change_cancel(
            context=api_context(request), change=change, reason=body.validated_data["reason"]
        )
        return self._answer(change)

    # --- reads and helpers ----------------------------------------------------------------

    @extend_schema(request=None, responses={200: dict})
    @action(
        detail=True,
        methods=["get"],
        permission_classes=[IsAuthenticated, VIEW],
        filterset_class=None,
    )
    def impact(self, request, pk=None):
        """The CIs and business services the RFC ripples to (stored at submit), its risk and
        the reasons."""
        return Response(selectors.change_impact(self.get_object()))

    @extend_schema(request=None, responses={200: dict})
    @action(
        detail=True,
        methods=["post"],
        url_path="impact/refresh",
        permission_classes=[IsAuthenticated, HasPerm("changes.change_change")],
    )
    def impact_refresh(self, request, pk=None):
        """Recompute the ripple set and risk now."""
        change = services.change_impact_refresh(
            context=api_context(request), change=self.get_object()
        )
        return Response(selectors.change_impact(change))

    @extend_schema(responses=s.LogEntrySerializer(many=True))
    @action(
        detail=True,
        methods=["get"],
        permission_classes=[IsAuthenticated, VIEW],
        filterset_class=None,
        ordering_fields=[],
    )
    def log(self, request, pk=None):
        """The change log: every event of the RFC, newest first."""
        page = self.paginate_queryset(selectors.change_log(self.get_object()))
        return self.get_paginated_response(s.LogEntrySerializer(page, many=True).data)

    @extend_schema(responses={200: dict})
    @action(
        detail=True,
        methods=["get"],
        url_path="suspected-incidents",
        permission_classes=[IsAuthenticated, VIEW],
        filterset_class=None,
        ordering_fields=[],
    )
    def suspected_incidents(self, request, pk=None):
        """Incidents on the changed CIs (or their impact set) logged during the window and
        soon after: candidates for the review."""
        rows = selectors.suspected_incidents(self.get_object()).values(
            "id", "number", "title", "status", "created"
        )
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(list(page))

    @extend_schema(request=s.AttachmentInSerializer, responses=s.AttachmentSerializer(many=True))
    @action(
        detail=True,
        methods=["get", "post"],
        permission_classes=[IsAuthenticated, VIEW],
        parser_classes=[MultiPartParser, FormParser, SafeJSONParser],
        filterset_class=None,
        ordering_fields=[],
    )
    def attachments(self, request, pk=None):
        """Files attached to the RFC; `POST` multipart `file` (and `name`) adds one."""
        change = self.get_object()
        if request.method == "POST":
            if not request.user.has_perm("changes.change_change"):
                self.permission_denied(request, message="You may not attach files.")
            services.require_originator_or_manager(api_context(request), change)
            body = s.AttachmentInSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            attachment = services.change_attach(
                context=api_context(request), change=change, **body.validated_data
            )
            return Response(s.AttachmentSerializer(attachment).data, status=201)
        page = self.paginate_queryset(change.attachments.all())
        return self.get_paginated_response(s.AttachmentSerializer(page, many=True).data)

    @extend_schema(
        parameters=[OpenApiParameter("start", str), OpenApiParameter("end", str)],
        responses={200: dict},
    )
    @action(
        detail=False,
        methods=["get"],
        permission_classes=[IsAuthenticated, VIEW],
        filterset_class=None,
        ordering_fields=[],
        extra_query_params=["start", "end"],
    )
    def conflicts(self, request):
        """Changes on the calendar touching the same CIs, or with overlapping impact sets, in
        overlapping windows within `?start=&end=`, and changes inside a blackout."""
        query = s.WindowQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        start, end = query.validated_data["start"], query.validated_data["end"]
        return Response({"start": start, "end": end, **selectors.conflicts(start, end)})

    @extend_schema(
        parameters=[OpenApiParameter("start", str), OpenApiParameter("end", str)],
        responses={200: dict},
    )
    @action(
        detail=False,
        methods=["get"],
        permission_classes=[IsAuthenticated, VIEW],
        filterset_class=None,
        ordering_fields=[],
        extra_query_params=["start", "end"],
    )
    def metrics(self, request):
        """Emergency-change ratio, success rate, mean lead time and changes causing incidents
        over `?start=&end=` (default: the last 90 days)."""
        query = s.OptionalWindowQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        start, end = selectors.default_metrics_period()
        start = query.validated_data.get("start", start)
        end = query.validated_data.get("end", end)
        if end <= start:
            return Response({"end": ["The end must be after the start."]}, status=400)
        return Response(selectors.change_metrics(start, end))

    @extend_schema(responses=s.ChangeSerializer(many=True))
    @action(
        detail=False,
        methods=["get"],
        url_path="awaiting-my-vote",
        permission_classes=[IsAuthenticated, VIEW],
        filterset_class=None,
        ordering_fields=[],
    )
    def awaiting_my_vote(self, request):
        """RFCs waiting for the caller's vote (the CAB member's queue)."""
        page = self.paginate_queryset(selectors.cab_pending_for(request.user))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


def _conflicts_json(change: Change) -> dict:
    return selectors.conflicts_for(change)


class TemplateViewSet(viewsets.ModelViewSet):
    """The standard-change catalogue (Change Managers edit it)."""

    queryset = StandardChangeTemplate.objects.all()
    serializer_class = s.TemplateSerializer
    filterset_class = TemplateFilterSet
    ordering_fields = ["name", "updated"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def perform_create(self, serializer):
        serializer.instance = services.template_create(
            context=api_context(self.request), data=serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = services.template_update(
            context=api_context(self.request),
            template=serializer.instance,
            data=serializer.validated_data,
        )

    def perform_destroy(self, instance):
        services.template_delete(context=api_context(self.request), template=instance)


class BlackoutViewSet(viewsets.ModelViewSet):
    """Blackout periods (no CI types or CIs: they apply to every change)."""

    queryset = Blackout.objects.prefetch_related("ci_types", "cis")
    serializer_class = s.BlackoutSerializer
    filterset_class = BlackoutFilterSet
    ordering_fields = ["start", "end", "name"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def _split(self, data):
        data = dict(data)
        return data, data.pop("ci_types", None), data.pop("cis", None)

    def perform_create(self, serializer):
        data, ci_types, cis = self._split(serializer.validated_data)
        serializer.instance = services.blackout_create(
            context=api_context(self.request), data=data, ci_types=ci_types, cis=cis
        )

    def perform_update(self, serializer):
        data, ci_types, cis = self._split(serializer.validated_data)
        serializer.instance = services.blackout_update(
            context=api_context(self.request),
            blackout=serializer.instance,
            data=data,
            ci_types=ci_types,
            cis=cis,
        )

    def perform_destroy(self, instance):
        services.blackout_delete(context=api_context(self.request), blackout=instance)


class CabMeetingViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """CAB meetings: created with an agenda of the RFCs awaiting the body's decision;
    decisions recorded per RFC with the votes."""

    queryset = CabMeeting.objects.select_related("body").prefetch_related(
        Prefetch("items", queryset=CabAgendaItem.objects.select_related("change"))
    )
    serializer_class = s.CabMeetingSerializer
    filterset_class = CabMeetingFilterSet
    ordering_fields = ["start"]

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        serializer.instance = services.cab_meeting_create(context=api_context(self.request), **data)

    @extend_schema(request=s.MeetingDecisionSerializer, responses=s.CabMeetingSerializer)
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[IsAuthenticated, HasPerm("changes.manage_change")],
    )
    def decision(self, request, pk=None):
        """Record the meeting's decision on an RFC of its agenda: `{"change", "decision":
        "approve"|"reject"|"request_info"|"defer", "notes"}`."""
        meeting = self.get_object()
        body = s.MeetingDecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.cab_meeting_record_decision(
            context=api_context(request), meeting=meeting, **body.validated_data
        )
        return Response(self.get_serializer(self.get_queryset().get(pk=meeting.pk)).data)

    @extend_schema(request=s.MinutesSerializer, responses=s.CabMeetingSerializer)
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[IsAuthenticated, HasPerm("changes.manage_change")],
    )
    def minutes(self, request, pk=None):
        """Record the meeting's minutes: `{"minutes"}`."""
        meeting = self.get_object()
        body = s.MinutesSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.cab_meeting_record_minutes(
            context=api_context(request), meeting=meeting, minutes=body.validated_data["minutes"]
        )
        return Response(self.get_serializer(self.get_queryset().get(pk=meeting.pk)).data)


class ApprovalBodyViewSet(viewsets.ReadOnlyModelViewSet):
    """The CABs and ECABs (edited in the admin by Change Managers)."""

    queryset = ApprovalBody.objects.prefetch_related(
        "members", "business_members", "technical_members"
    )
    serializer_class = s.ApprovalBodySerializer
    ordering_fields = ["name"]


class ApprovalRuleViewSet(viewsets.ReadOnlyModelViewSet):
    """The approval rules, in the order they are tried (edited in the admin)."""

    queryset = ApprovalRule.objects.select_related("body")
    serializer_class = s.ApprovalRuleSerializer
    ordering_fields = ["order"]
