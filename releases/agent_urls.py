"""The agent executor's signed endpoints, mounted at `/api/v1/agents/deployments/` (before the
agents app's own `agents/` include, which would otherwise take the path)."""

from django.urls import path

from . import agent_api

urlpatterns = [
    path("", agent_api.AgentDeploymentsView.as_view(), name="agent-deployments"),
    path(
        "<int:step_id>/result/",
        agent_api.AgentStepResultView.as_view(),
        name="agent-deployment-result",
    ),
    path(
        "<int:step_id>/heartbeat/",
        agent_api.AgentStepHeartbeatView.as_view(),
        name="agent-deployment-heartbeat",
    ),
    path(
        "artifacts/<int:pk>/",
        agent_api.AgentArtifactView.as_view(),
        name="agent-deployment-artifact",
    ),
]
