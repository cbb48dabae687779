"""Running a deployment to quiet in this process, without workers: what the tests, the demo
data and a server without a broker use. Each step goes through the same claim and result
path as a worker's."""

from __future__ import annotations

from .. import executors
from ..models import Deployment, DeploymentStep
from .advance import advance
from .steps import CLAIMING_FOR_PHASE, claimable, step_run


def run_until_quiet(deployment_id: int, *, max_rounds: int = 1000) -> Deployment:
    """Advance, run every claimable step, repeat until nothing moves (a gate waiting for a
    person, a bake time, the end). Returns the deployment as it then is."""
    for _ in range(max_rounds):
        advance(deployment_id)
        deployment = Deployment.objects.get(pk=deployment_id)
        if executors.get(deployment.executor).is_remote:
            break
        phases = [p for p, s in CLAIMING_FOR_PHASE.items() if deployment.status in s]
        ready = list(
            claimable(DeploymentStep.objects.filter(deployment_id=deployment_id, phase__in=phases))
            .order_by("pk")
            .values_list("pk", "attempt")
        )
        if not ready:
            before = (deployment.status, deployment.version)
            advance(deployment_id)
            deployment.refresh_from_db()
            if (deployment.status, deployment.version) == before:
                break
            continue
        for step_id, attempt in ready:
            step_run(step_id=step_id, attempt=attempt)
    return Deployment.objects.get(pk=deployment_id)
