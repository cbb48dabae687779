"""The simulated executor, for demos, tests and benchmarks: no machine is touched.

A step fails with probability `failure_rate`, decided by a random generator seeded with the
step id and attempt (and the optional `seed`), so a test run is reproducible and a retry may
succeed. `step_delay_ms` sleeps to look like work. A condition `{"unless_installed": {"name",
"version"}}` is checked against the CMDB's installed software (skipped when present). Every run
is written to `SimulatedExecution`, so the crash tests can count runs.
"""

from __future__ import annotations

import os
import random
import socket
import time
from typing import Any

from itsm.exceptions import ApplicationError

from ..choices import StepState
from ..models import SimulatedExecution
from . import Executor, StepResult

WORKER = f"{socket.gethostname()}:{os.getpid()}"


def condition_met(step) -> tuple[bool, str]:
    """Whether the step's condition asks to run it, and why not (against the CMDB)."""
    unless = (step.condition or {}).get("unless_installed")
    if not unless:
        return True, ""
    from cmdb.models import InstalledSoftware, software_key

    name, version = str(unless.get("name", "")), unless.get("version")
    found = InstalledSoftware.objects.filter(
        ci_id=step.target.ci_id, software__product__name_key=software_key(name)
    )
    if version:
        found = found.filter(software__version=str(version))
    if found.exists():
        return False, f"{name} {version or ''} is already installed: nothing to do."
    return True, ""


class SimulatedExecutor(Executor):
    name = "simulated"

    def check_params(self, params: dict[str, Any]) -> dict[str, Any]:
        try:
            rate = float(params.get("failure_rate", 0.0))
            delay = int(params.get("step_delay_ms", 0))
            seed = str(params.get("seed", ""))
        except (TypeError, ValueError) as exc:
            raise ApplicationError(
                "simulation: failure_rate is a number from 0 to 1, step_delay_ms an integer."
            ) from exc
        if not 0.0 <= rate <= 1.0 or not 0 <= delay <= 600_000:
            raise ApplicationError(
                "simulation: failure_rate is from 0 to 1, step_delay_ms from 0 to 600000."
            )
        return {"failure_rate": rate, "step_delay_ms": delay, "seed": seed, "simulated": True}

    def run_step(self, step, *, params: dict[str, Any]) -> StepResult:
        run, why = condition_met(step)
        if not run:
            return StepResult(
                ok=True,
                outcome=StepState.SKIPPED,
                log=f"[simulated] {why}",
                row=_executed(step, StepState.SKIPPED),
            )
        delay = int(params.get("step_delay_ms", 0))
        if delay:
            time.sleep(delay / 1000)
        rng = random.Random(f"{params.get('seed', '')}:{step.pk}:{step.attempt}")
        ok = rng.random() >= float(params.get("failure_rate", 0.0))
        lines = [
            f"[simulated] {step.module} {step.params or ''} on CI {step.target.ci_id} "
            f"(attempt {step.attempt}, worker {WORKER})"
        ]
        if step.success_test:
            lines.append(
                f"[simulated] success test {step.success_test}: {'passed' if ok else 'failed'}"
            )
        lines.append("[simulated] ok" if ok else "[simulated] failed (simulated failure)")
        return StepResult(
            ok=ok,
            log="\n".join(lines),
            data={"simulated": True},
            row=_executed(step, StepState.SUCCEEDED if ok else StepState.FAILED),
        )


def _executed(step, outcome: str) -> tuple[type[SimulatedExecution], dict[str, Any]]:
    """The simulated machine's effect: one row per run, written with the recorded result (a
    worker killed before the record leaves none, as a machine that did nothing)."""
    return SimulatedExecution, {
        "step_id": step.pk,
        "attempt": step.attempt,
        "worker": WORKER,
        "outcome": outcome,
    }
