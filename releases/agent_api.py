"""The agent executor's HTTP side: signed endpoints the `itsm-agent` of a machine calls.

- `GET  /api/v1/agents/deployments/`: the steps waiting for this agent's CI (agent executor),
  claimed with a lease; each with the package's artifacts (id, name, version, SHA-256 from the
  library, download URL). The agent runs a step only when every artifact it downloaded has the
  checksum sent here.
- `POST /api/v1/agents/deployments/<step>/result/`: the result of one attempt of one step.
  Refused (403) for a step that is not of this agent's CI, (409) for an attempt that is not the
  current one or a step not waiting for a result; nothing is written then.
- `POST /api/v1/agents/deployments/<step>/heartbeat/`: `{"attempt", "running", "progress"}`
  every `heartbeat_seconds` (in the GET answer) for each step handed out and not reported yet:
  extends the lease of this agent's current attempt (`engine.leases.step_heartbeat`); the step
  being run (`running`, default true) moves to running; `progress` appends a line to its log. Refused (403) for another agent's step, (409) for an old attempt or a step
  not claimed or running; nothing is changed then.
- `GET  /api/v1/agents/deployments/artifacts/<id>/`: the stored file of an artifact the agent
  has a step for, streamed.

Every request is authenticated with the agents' HTTP Message Signatures
(`agents.signatures.verify_signed_request`, the nonce consumed as for the policy); releases may
import agents, never the reverse, so these views live here and are mounted in `itsm/urls.py`
before the `agents/` include.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from agents import services as agent_services
from agents.api.views import SignedAgentView, refuse
from agents.schema import ReportInvalid, parse_json
from agents.signatures import SignedRequestRejected, VerifiedRequest
from itsm.exceptions import ApplicationError

from .choices import DEPLOYMENT_ACTIVE, StepState
from .engine.leases import heartbeat_seconds, step_heartbeat
from .engine.steps import lease_seconds, step_claim_for_agent, step_record_result
from .models import DeploymentStep, SoftwareArtifact

#: Steps handed to an agent per request.
STEPS_PER_REQUEST = 20


def lease_owner(verified: VerifiedRequest) -> str:
    """The lease owner written on the steps an agent claims."""
    return f"agent:{verified.agent.key_id}"


def artifact_reference(artifact: SoftwareArtifact) -> dict[str, Any]:
    """What the agent needs to fetch and check one artifact."""
    url = (
        reverse("agent-deployment-artifact", kwargs={"pk": artifact.pk})
        if artifact.file
        else artifact.reference_url
    )
    return {
        "id": artifact.pk,
        "name": artifact.name,
        "version": artifact.version,
        "sha256": artifact.sha256,
        "size": artifact.size,
        "url": url,
        "signed": bool(artifact.file),
    }


def _package_artifacts(steps: list[DeploymentStep]) -> dict[int, list[dict[str, Any]]]:
    """The artifacts of each release package of `steps`, in one query."""
    package_ids = {s.deployment.release.package_id for s in steps} - {None}
    by_package: dict[int, list[dict[str, Any]]] = {pk: [] for pk in package_ids if pk}
    through = SoftwareArtifact.packages.through
    rows = (
        through.objects.filter(releasepackage_id__in=by_package)
        .select_related("softwareartifact")
        .order_by("releasepackage_id", "softwareartifact_id")
    )
    for row in rows:
        by_package[row.releasepackage_id].append(artifact_reference(row.softwareartifact))
    return by_package


def step_payload(step: DeploymentStep, artifacts: list[dict[str, Any]]) -> dict[str, Any]:
    """One claimed step as the agent receives it."""
    release = step.deployment.release
    return {
        "id": step.pk,
        "attempt": step.attempt,
        "deployment": step.deployment_id,
        "release": release.number,
        "order": step.order,
        "name": step.name,
        "phase": step.phase,
        "module": step.module,
        "params": step.params or {},
        "condition": step.condition or {},
        "success_test": step.success_test or {},
        "idempotent": step.idempotent,
        "artifact": artifact_reference(step.artifact) if step.artifact_id else None,
        "artifacts": artifacts,
        "lease_expires_at": step.lease_expires_at,
        "result_url": reverse("agent-deployment-result", kwargs={"step_id": step.pk}),
        "heartbeat_url": reverse("agent-deployment-heartbeat", kwargs={"step_id": step.pk}),
    }


def lease_terms() -> dict[str, int]:
    """How long a claim holds, and how often the agent renews it while a step runs."""
    return {"lease_seconds": lease_seconds(), "heartbeat_seconds": heartbeat_seconds()}


class Refused(Exception):
    """A signed request refused before anything was written; `response` says why."""

    def __init__(self, response: Response):
        super().__init__(response.status_code)
        self.response = response


def accept_signed(
    view: SignedAgentView, request, body: type[serializers.Serializer] | None = None
) -> tuple[VerifiedRequest, dict[str, Any]]:
    """Verify the agent's signature, parse and validate the JSON `body` (when the request has
    one), then consume the nonce: the request's validated data. Raises `Refused` with the 4xx
    answer (nothing written) for a bad signature, a replay, malformed JSON or invalid fields."""
    try:
        verified = view.verified(request, has_body=body is not None)
        data: dict[str, Any] = {}
        if body is not None:
            try:
                serializer = body(data=parse_json(verified.body))
            except ReportInvalid as exc:
                raise SignedRequestRejected(
                    400, exc.reason, str(exc), verified.agent.key_id
                ) from exc
            if not serializer.is_valid():
                raise Refused(Response(serializer.errors, status=400))
            data = serializer.validated_data
        with transaction.atomic():
            agent_services.nonce_consume(verified)
    except SignedRequestRejected as exc:
        raise Refused(refuse(request, exc)) from exc
    return verified, data


class ResultSerializer(serializers.Serializer):
    """The body of a step result."""

    attempt = serializers.IntegerField(min_value=1)
    ok = serializers.BooleanField()
    outcome = serializers.ChoiceField(
        choices=[StepState.SUCCEEDED, StepState.FAILED, StepState.SKIPPED],
        required=False,
        allow_blank=True,
    )
    log = serializers.CharField(required=False, allow_blank=True, max_length=1_000_000)
    data = serializers.DictField(required=False)


class AgentDeploymentsView(SignedAgentView):
    """`GET agents/deployments/` (signed): claim and return the steps waiting for this agent."""

    @extend_schema(responses={200: dict}, auth=[])
    def get(self, request):
        try:
            verified, _ = accept_signed(self, request)
        except Refused as exc:
            return exc.response
        agent_services.agent_touch(verified.agent)
        ci_id = verified.agent.ci_id
        if ci_id is None:
            return Response({"steps": [], **lease_terms()})
        steps = step_claim_for_agent(
            ci_id=ci_id, owner=lease_owner(verified), limit=STEPS_PER_REQUEST
        )
        if steps:  # the releases (number, package) of every step: one query
            _load_releases(steps)
        artifacts = _package_artifacts(steps)
        return Response(
            {
                "steps": [
                    step_payload(s, artifacts.get(s.deployment.release.package_id, []))
                    for s in steps
                ],
                **lease_terms(),
            }
        )


def _load_releases(steps: list[DeploymentStep]) -> None:
    from .models import Release

    releases = Release.objects.in_bulk({s.deployment.release_id for s in steps})
    for step in steps:
        step.deployment.release = releases[step.deployment.release_id]


class AgentStepResultView(SignedAgentView):
    """`POST agents/deployments/<step>/result/` (signed): record one attempt's result."""

    @extend_schema(request=ResultSerializer, responses={200: dict}, auth=[])
    def post(self, request, step_id: int):
        try:
            verified, data = accept_signed(self, request, ResultSerializer)
        except Refused as exc:
            return exc.response
        agent_services.agent_touch(verified.agent)
        ci_id = verified.agent.ci_id
        if ci_id is None or not DeploymentStep.objects.filter(pk=step_id).exists():
            return Response({"detail": "No such step for this agent."}, status=404)
        try:
            step = step_record_result(
                step_id=step_id,
                attempt=data["attempt"],
                ok=data["ok"],
                outcome=data.get("outcome") or "",
                log=data.get("log", ""),
                data=data.get("data") or {},
                ci_id=ci_id,
            )
        except ApplicationError as exc:
            return Response({"detail": str(exc), **exc.extra}, status=exc.status_code)
        step.refresh_from_db(fields=["state", "attempt"])
        return Response({"id": step.pk, "state": step.state, "attempt": step.attempt})


class HeartbeatSerializer(serializers.Serializer):
    """The body of a heartbeat: the attempt the step was handed out with, and optionally a
    line of progress for the step's log."""

    attempt = serializers.IntegerField(min_value=1)
    progress = serializers.CharField(required=False, allow_blank=True, max_length=10_000)
    running = serializers.BooleanField(required=False, default=True)


class AgentStepHeartbeatView(SignedAgentView):
    """`POST agents/deployments/<step>/heartbeat/` (signed): extend the lease of this agent's
    current attempt of a step it is running."""

    @extend_schema(request=HeartbeatSerializer, responses={200: dict}, auth=[])
    def post(self, request, step_id: int):
        try:
            verified, data = accept_signed(self, request, HeartbeatSerializer)
        except Refused as exc:
            return exc.response
        ci_id = verified.agent.ci_id
        if ci_id is None:
            return Response({"detail": "No such step for this agent."}, status=404)
        try:
            beat = step_heartbeat(
                step_id=step_id,
                attempt=data["attempt"],
                owner=lease_owner(verified),
                ci_id=ci_id,
                progress=data.get("progress", ""),
                running=data["running"],
            )
        except ApplicationError as exc:
            return Response({"detail": str(exc), **exc.extra}, status=exc.status_code)
        agent_services.agent_touch(verified.agent)
        return Response(
            {
                "id": beat.step_id,
                "state": beat.state,
                "attempt": beat.attempt,
                "lease_expires_at": beat.lease_expires_at,
                **lease_terms(),
            }
        )


class AgentArtifactView(SignedAgentView):
    """`GET agents/deployments/artifacts/<id>/` (signed): the artifact's stored bytes, for an
    agent that has a step of a package holding it in a deployment under way."""

    @extend_schema(responses={200: bytes}, auth=[])
    def get(self, request, pk: int):
        try:
            verified, _ = accept_signed(self, request)
        except Refused as exc:
            return exc.response
        ci_id = verified.agent.ci_id
        allowed = (
            ci_id is not None
            and DeploymentStep.objects.filter(
                target__ci_id=ci_id,
                deployment__status__in=DEPLOYMENT_ACTIVE,
                deployment__release__package__artifacts=pk,
            ).exists()
        )
        artifact = SoftwareArtifact.objects.filter(pk=pk).first() if allowed else None
        if artifact is None or not artifact.file:
            return Response({"detail": "No such artifact for this agent."}, status=404)
        response = FileResponse(
            artifact.file.open("rb"),
            as_attachment=True,
            filename=artifact.file.name.rsplit("/", 1)[-1],
            content_type="application/octet-stream",
        )
        response["X-Checksum-SHA256"] = artifact.sha256
        return response
