"""Executors run deployment steps. One small interface, a registry by name.

    class MyExecutor(Executor):
        name = "mine"
        def run_step(self, step, *, params) -> StepResult: ...

    register(MyExecutor())

`is_remote = True` means the steps are not sent to Celery workers: something else claims them
(the agent fetches its steps with `releases.engine.steps.step_claim_for_agent` and posts each
result with `step_record_result`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import models

from ..choices import StepState


@dataclass(frozen=True)
class StepResult:
    """What running a step gave: ok, its log, and the outcome (`succeeded`, `failed`, or
    `skipped` when its condition said there was nothing to do); `data` goes to the step's
    `result` column."""

    ok: bool
    log: str = ""
    outcome: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    #: A row `(model, {field: value})` written with the result, only if the result is
    #: recorded (in the same statement on PostgreSQL, the same transaction elsewhere): for an
    #: executor whose effects live in the database (the simulated one), so a worker killed
    #: between the run and the record leaves no trace of the run.
    row: tuple[type[models.Model], dict[str, Any]] | None = None

    @property
    def state(self) -> str:
        if self.outcome == StepState.SKIPPED:
            return StepState.SKIPPED
        return StepState.SUCCEEDED if self.ok else StepState.FAILED


class Executor:
    """Runs one step on one target. Subclasses set `name` and implement `run_step`."""

    name: str = ""
    #: Steps are claimed by something outside the Celery workers (an agent).
    is_remote: bool = False

    def run_step(self, step, *, params: dict[str, Any]) -> StepResult:  # pragma: no cover
        """Run `step` (a `DeploymentStep`, its target and CI loaded); `params` are the
        deployment's executor parameters (e.g. the simulation's)."""
        raise NotImplementedError

    def check_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Validate the executor parameters given to `deploy`; return them cleaned."""
        return {}


_REGISTRY: dict[str, Executor] = {}


def register(executor: Executor) -> Executor:
    """Make an executor available to `deploy` under its name."""
    _REGISTRY[executor.name] = executor
    return executor


def get(name: str) -> Executor:
    """The executor registered as `name` (KeyError if none)."""
    if not _REGISTRY:
        _load_builtin()
    return _REGISTRY[name]


def names() -> list[str]:
    """Every registered executor name."""
    if not _REGISTRY:
        _load_builtin()
    return sorted(_REGISTRY)


def _load_builtin() -> None:
    from .agent import AgentExecutor
    from .simulated import SimulatedExecutor

    register(SimulatedExecutor())
    register(AgentExecutor())
