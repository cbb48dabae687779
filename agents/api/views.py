"""REST endpoints of the agents app.

Signed endpoints (reports, policy, rotate-key) authenticate the agent with HTTP Message
Signatures before a byte of JSON is parsed; enrol authenticates with the one-time token;
everything else is for people with the right permissions.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from cmdb.choices import ChangeSource
from cmdb.history import ChangeContext
from itsm.client_ip import client_ip
from itsm.permissions import HasPerm
from itsm.throttling import FailureRateThrottle

from .. import binding, policies, selectors, services
from ..filtersets import (
    AgentFilterSet,
    CIEventFilterSet,
    DiscrepancyFilterSet,
    InventoryReportFilterSet,
    SecurityEventFilterSet,
)
from ..models import (
    Agent,
    AgentGroup,
    CIEvent,
    Discrepancy,
    EnrollmentToken,
    InventoryReport,
    SecurityEvent,
)
from ..schema import ReportInvalid, parse_json
from ..signatures import (
    SignedRequestRejected,
    VerifiedRequest,
    check_size_and_type,
    verify_signed_request,
)
from . import serializers as s


def api_context(request) -> ChangeContext:
    return ChangeContext(actor=request.user, source=ChangeSource.API)


def client_address(request) -> str | None:
    return client_ip(request)


def refuse(request, exc: SignedRequestRejected) -> Response:
    """Answer a refused agent request; only a rate-limited security log entry is written."""
    services.rejection_record(
        reason=exc.reason,
        status_code=exc.status,
        path=request.path,
        remote_addr=client_address(request),
        key_id=exc.key_id,
        detail=exc.message,
    )
    response = Response({"detail": exc.message}, status=exc.status)
    if exc.status == 401:
        response["WWW-Authenticate"] = 'Signature realm="agents"'
    return response


class SignedAgentView(APIView):
    """Base for endpoints called by agents with signed requests (no user authentication)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]  # the signature is checked in `verified()`, first thing
    parser_classes: list = []
    filter_backends: list = []

    def verified(self, request, *, has_body: bool) -> VerifiedRequest:
        check_size_and_type(request.META, has_body=has_body)
        body = request._request.body if has_body else b""
        return verify_signed_request(
            method=request.method, path=request.path, meta=request.META, body=body
        )


class ReportView(SignedAgentView):
    """`POST agents/reports/`: a signed inventory report, stored durably, answered 202."""

    @extend_schema(
        request={"application/json": dict},
        responses={
            202: inline_serializer(
                "ReportAccepted",
                {"report_id": serializers.IntegerField(), "status": serializers.CharField()},
            ),
            400: OpenApiResponse(description="Invalid JSON or schema"),
            401: OpenApiResponse(description="Signature, key, clock, nonce or digest refused"),
            413: OpenApiResponse(description="Body too large"),
            415: OpenApiResponse(description="Not application/json"),
        },
        auth=[],
    )
    def post(self, request):
        try:
            verified = self.verified(request, has_body=True)
            try:
                document = parse_json(verified.body)
                report = services.report_accept(verified=verified, document=document)
            except ReportInvalid as exc:
                raise SignedRequestRejected(
                    400, exc.reason, str(exc), verified.agent.key_id
                ) from exc
        except SignedRequestRejected as exc:
            return refuse(request, exc)
        return Response(
            {"report_id": report.pk, "status": report.status}, status=status.HTTP_202_ACCEPTED
        )


class PolicyView(SignedAgentView):
    """`GET agents/policy/` (signed): what this agent should collect and how often."""

    @extend_schema(responses={200: dict}, auth=[])
    def get(self, request):
        try:
            verified = self.verified(request, has_body=False)
            services.nonce_consume(verified)
        except SignedRequestRejected as exc:
            return refuse(request, exc)
        services.agent_touch(verified.agent)
        group = verified.agent.group or services.default_group()
        return Response(group.as_policy())


class RotateKeyView(SignedAgentView):
    """`POST agents/rotate-key/`: signed with the old key, `proof` signed with the new one."""

    @extend_schema(request=s.RotateKeySerializer, responses={200: dict}, auth=[])
    def post(self, request):
        try:
            verified = self.verified(request, has_body=True)
            try:
                body = s.RotateKeySerializer(data=parse_json(verified.body))
            except ReportInvalid as exc:
                raise SignedRequestRejected(
                    400, exc.reason, str(exc), verified.agent.key_id
                ) from exc
            if not body.is_valid():
                return Response(body.errors, status=400)
            agent = services.agent_rotate_key(
                verified=verified,
                new_public_key=body.validated_data["public_key"],
                proof=body.validated_data["proof"],
            )
        except SignedRequestRejected as exc:
            return refuse(request, exc)
        return Response({"key_id": agent.key_id, "status": agent.status})


class EnrollThrottle(FailureRateThrottle):
    """Failed enrolments (unknown, used or expired token) per client address; successful ones
    are not counted, so a fleet behind one NAT address enrols at full speed."""

    scope = "enroll"


class EnrollView(APIView):
    """`POST agents/enroll/`: no user authentication; the one-time token is the credential."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [EnrollThrottle]
    filter_backends: list = []

    @extend_schema(request=s.EnrollSerializer, responses={201: dict}, auth=[])
    def post(self, request):
        body = s.EnrollSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            agent = services.agent_enroll(
                **body.validated_data, remote_addr=client_address(request)
            )
        except SignedRequestRejected as exc:
            for throttle in self.get_throttles():
                if isinstance(throttle, FailureRateThrottle):
                    throttle.record_failure(request, self)
            return refuse(request, exc)
        return Response(
            {"key_id": agent.key_id, "status": agent.status}, status=status.HTTP_201_CREATED
        )


class AgentViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Enrolled agents: approve, revoke, assign a policy, see last contact."""

    queryset = Agent.objects.select_related("group")
    serializer_class = s.AgentSerializer
    filterset_class = AgentFilterSet
    ordering_fields = ["name", "last_seen", "enrolled_at", "status"]
    lookup_value_regex = r"\d+"
    http_method_names = ["get", "patch", "post", "head", "options"]

    def perform_update(self, serializer):
        data = serializer.validated_data
        agent = serializer.instance
        serializer.instance = services.agent_update(
            context=api_context(self.request),
            agent_id=agent.pk,
            group=data.get("group", agent.group),
            is_collector=data.get("is_collector", agent.is_collector),
        )

    @extend_schema(request=None, responses=s.AgentSerializer)
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[IsAuthenticated, HasPerm("agents.enroll_agent")],
    )
    def approve(self, request, pk=None):
        agent = services.agent_approve(context=api_context(request), agent_id=self.get_object().pk)
        return Response(s.AgentSerializer(agent).data)

    @extend_schema(request=None, responses=s.AgentSerializer)
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[IsAuthenticated, HasPerm("agents.revoke_agent")],
    )
    def revoke(self, request, pk=None):
        agent = services.agent_revoke(context=api_context(request), agent_id=self.get_object().pk)
        return Response(s.AgentSerializer(agent).data)


class EnrollmentTokenViewSet(
    mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """One-time enrolment secrets. The secret is returned once, at creation; only its hash is kept."""

    queryset = EnrollmentToken.objects.select_related("created_by")
    serializer_class = s.EnrollmentTokenSerializer
    permission_classes = [IsAuthenticated, HasPerm("agents.enroll_agent")]
    ordering_fields = ["created", "expires"]

    @extend_schema(
        request=s.EnrollmentTokenRequestSerializer,
        responses={
            201: inline_serializer(
                "EnrollmentTokenCreated",
                {"token": serializers.CharField(), "expires": serializers.DateTimeField()},
            )
        },
    )
    def create(self, request, *args, **kwargs):
        body = s.EnrollmentTokenRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        secret, token = services.enrollment_token_create(
            context=api_context(request),
            expires_in_hours=data["expires_in_hours"],
            auto_approve=data["auto_approve"],
            group=data.get("policy"),
            note=data["note"],
        )
        return Response(
            {"token": secret, "expires": token.expires, "id": token.pk},
            status=status.HTTP_201_CREATED,
        )


class AgentGroupViewSet(viewsets.ModelViewSet):
    """Collection policies: what agents of a group collect and how often.

    Changes send the `version` they read (a stale one answers 409); a policy still used by
    agents or enrolment tokens cannot be deleted (409, naming them).
    """

    queryset = AgentGroup.objects.select_related("default_ci_type")
    serializer_class = s.AgentGroupSerializer
    ordering_fields = ["name"]
    lookup_value_regex = r"\d+"

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("version", None)
        serializer.instance = policies.policy_create(context=api_context(self.request), values=data)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        serializer.instance = policies.policy_update(
            context=api_context(self.request),
            policy_id=serializer.instance.pk,
            values=data,
            expected_version=data.pop("version"),
        )

    def perform_destroy(self, instance):
        policies.policy_delete(context=api_context(self.request), policy_id=instance.pk)


class InventoryReportViewSet(viewsets.ReadOnlyModelViewSet):
    """The inbox: stored reports with their processing status and what they changed."""

    queryset = InventoryReport.objects.select_related("agent").defer("body")
    serializer_class = s.InventoryReportSerializer
    filterset_class = InventoryReportFilterSet
    ordering_fields = ["received_at", "id"]


class CIEventViewSet(viewsets.ReadOnlyModelViewSet):
    """Significant events machines reported, queryable per CI."""

    queryset = CIEvent.objects.all()
    serializer_class = s.CIEventSerializer
    filterset_class = CIEventFilterSet
    ordering_fields = ["at", "id"]


class DiscrepancyViewSet(viewsets.ReadOnlyModelViewSet):
    """Verification and audit: where the CMDB and the machines disagree."""

    queryset = Discrepancy.objects.select_related("ci__ci_type")
    serializer_class = s.DiscrepancySerializer
    filterset_class = DiscrepancyFilterSet
    ordering_fields = ["last_seen", "first_seen", "kind", "id"]

    @extend_schema(request=s.CloseDiscrepancySerializer, responses=s.DiscrepancySerializer)
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[IsAuthenticated, HasPerm("agents.resolve_discrepancy")],
    )
    def close(self, request, pk=None):
        body = s.CloseDiscrepancySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        item = services.discrepancy_close(
            context=api_context(request), discrepancy_id=self.get_object().pk, **body.validated_data
        )
        return Response(s.DiscrepancySerializer(item).data)

    @extend_schema(request=s.BindingDecisionSerializer, responses=s.DiscrepancySerializer)
    @action(
        detail=True,
        methods=["post"],
        url_path="approve-binding",
        permission_classes=[IsAuthenticated, HasPerm("agents.bind_agent")],
    )
    def approve_binding(self, request, pk=None):
        """Bind the held report's key to this CI (unbinding any other key) and apply the report."""
        return self._decide_binding(request, binding.binding_approve)

    @extend_schema(request=s.BindingDecisionSerializer, responses=s.DiscrepancySerializer)
    @action(
        detail=True,
        methods=["post"],
        url_path="refuse-binding",
        permission_classes=[IsAuthenticated, HasPerm("agents.bind_agent")],
    )
    def refuse_binding(self, request, pk=None):
        """Refuse the binding: the held reports are rejected, nothing in the CMDB changes."""
        return self._decide_binding(request, binding.binding_refuse)

    def _decide_binding(self, request, decide):
        body = s.BindingDecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        item = decide(
            context=api_context(request), discrepancy_id=self.get_object().pk, **body.validated_data
        )
        return Response(s.DiscrepancySerializer(item).data)


class SecurityEventViewSet(viewsets.ReadOnlyModelViewSet):
    """The security log of refused agent requests."""

    queryset = SecurityEvent.objects.all()
    serializer_class = s.SecurityEventSerializer
    filterset_class = SecurityEventFilterSet
    ordering_fields = ["at", "id"]


class HealthView(APIView):
    """CMDB health: completeness, correctness and freshness per CI type and overall."""

    permission_classes = [IsAuthenticated, HasPerm("cmdb.view_configurationitem")]

    @extend_schema(responses={200: dict})
    def get(self, request):
        if set(request.query_params) - {"format"}:
            raise ValidationError({"detail": "This endpoint takes no query parameters."})
        per_type, overall = selectors.cmdb_health()

        def row(score):
            return {
                "ci_type": score.slug or None,
                "label": score.label,
                "cis": score.cis,
                "completeness": score.completeness,
                "correctness": score.correctness,
                "freshness": score.freshness,
                "score": score.overall,
            }

        return Response({"overall": row(overall), "ci_types": [row(score) for score in per_type]})
