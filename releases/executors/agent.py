"""The agent executor: steps wait in the database until the target machine's `itsm-agent`
fetches them (signed GET `agents/deployments/`) and posts each result. The HTTP side lives with
the agents' endpoints; they call `releases.engine.steps.step_claim_for_agent` and
`step_record_result`."""

from __future__ import annotations

from typing import Any

from . import Executor, StepResult


class AgentExecutor(Executor):
    name = "agent"
    is_remote = True

    def run_step(self, step, *, params: dict[str, Any]) -> StepResult:
        raise RuntimeError("Agent steps are run by the agent on the machine, not by a worker.")
