"""Lease heartbeats: an agent running a long step keeps its claim alive.

A claimed step holds a lease (`lease_owner`, `lease_expires_at`, `RELEASES_LEASE_SECONDS`);
`advance` marks a step whose lease expired *lost*. A Celery step is bounded by its task's time
limit (below the lease), but an agent's install may run longer than the lease: the agent sends
a heartbeat every `heartbeat_seconds()` while the step runs, and each one pushes the lease
`lease_seconds()` ahead.

A heartbeat is one conditional UPDATE on (id, attempt, state in claimed/running, lease owner,
the agent's CI) that also bumps the version, so an `advance` that read the step as expired just
before (its move to lost is conditioned on that version) moves nothing. The first heartbeat of
an attempt for the step the agent is running moves it from claimed to running through
`transition` (its one event row: "the agent is working on it"); later ones write no event. A heartbeat that arrives after the
lease expired but before `advance` marked the step lost still renews it: the agent is alive.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import F, TextField, Value
from django.db.models.functions import Concat, Right
from django.utils import timezone

from itsm.exceptions import ApplicationError, ConflictError, PermissionDeniedError

from ..choices import StepState
from ..models import DeploymentStep
from .steps import lease_seconds
from .transitions import transition

#: Steps a heartbeat keeps alive.
LEASED = (StepState.CLAIMED, StepState.RUNNING)
#: A progress line is cut to this; the step's log keeps its last LOG_KEEP characters (as a
#: result does).
PROGRESS_LINE = 2000
LOG_KEEP = 200_000


def heartbeat_seconds() -> int:
    """How often an agent sends a heartbeat while a step runs: a third of the lease, so two
    may be lost before the lease expires."""
    return max(1, lease_seconds() // 3)


class NoSuchStep(ApplicationError):
    """The step does not exist (404)."""

    status_code = 404


@dataclass(frozen=True)
class Heartbeat:
    """What a heartbeat did: the step's state and attempt, and the lease's new expiry."""

    step_id: int
    state: str
    attempt: int
    lease_expires_at: dt.datetime


def _progress(line: str, now: dt.datetime) -> str:
    text = " ".join(line.split())[:PROGRESS_LINE]
    return f"[{now.strftime('%Y-%m-%d %H:%M:%S')}Z progress] {text}" if text else ""


def _log_with(line: str):
    """The log column with `line` appended (in SQL: no read-modify-write race with a result)."""
    appended = Concat(F("log"), Value("\n" + line), output_field=TextField())
    return Right(appended, LOG_KEEP, output_field=TextField())


@transaction.atomic
def step_heartbeat(
    *,
    step_id: int,
    attempt: int,
    owner: str,
    ci_id: int | None = None,
    progress: str = "",
    running: bool = True,
) -> Heartbeat:
    """Extend the lease of attempt `attempt` of a step claimed by `owner` (for the agent
    executor, `ci_id` is the agent's CI) by `lease_seconds()` from now, appending `progress`
    (one line) to the step's log. `running`: the owner is running it (a claimed step moves to
    running); False for a step claimed in the same batch that waits its turn. Refused,
    nothing changed: 404 no such step; 403 a step of another CI, or leased by another owner;
    409 another attempt, or a step not claimed or running (finished, lost, retried,
    skipped)."""
    step = (
        DeploymentStep.objects.select_related("target")
        .only(
            "id",
            "deployment_id",
            "state",
            "version",
            "attempt",
            "lease_owner",
            "log",
            "target__ci_id",
        )
        .filter(pk=step_id)
        .first()
    )
    if step is None:
        raise NoSuchStep("No such step.")
    if ci_id is not None and step.target.ci_id != ci_id:
        raise PermissionDeniedError("This step is not for this agent's machine.")
    if step.attempt != attempt:
        raise ConflictError(
            f"Attempt {attempt} is not the current one ({step.attempt}).",
            extra={"current_attempt": step.attempt},
        )
    if step.state not in LEASED:
        raise ConflictError(
            f"The step is {step.state}: no lease to extend.", extra={"state": step.state}
        )
    if step.lease_owner != owner[:200]:
        raise PermissionDeniedError("This step is leased by another agent or worker.")
    now = timezone.now()
    expires = now + dt.timedelta(seconds=lease_seconds())
    line = _progress(progress, now)
    updates: dict[str, Any] = {"lease_expires_at": expires}
    if line:
        updates["log"] = _log_with(line) if step.log else Value(line)
    where = {"attempt": attempt, "lease_owner": owner[:200]}
    state: str
    if (
        running
        and step.state == StepState.CLAIMED
        and transition(
            step,
            StepState.RUNNING,
            expected_from=StepState.CLAIMED,
            where=where,
            event=f"running: heartbeat of {owner}",
            updates=updates,
        )
    ):
        state = StepState.RUNNING
    else:
        changed = DeploymentStep.objects.filter(pk=step.pk, state__in=LEASED, **where).update(
            version=F("version") + 1, **updates
        )
        if not changed:
            raise ConflictError("The step moved on meanwhile: its lease was not extended.")
        state = step.state
        if running and state == StepState.CLAIMED:  # a concurrent heartbeat moved it
            state = DeploymentStep.objects.values_list("state", flat=True).get(pk=step.pk)
    return Heartbeat(step_id=step.pk, state=state, attempt=attempt, lease_expires_at=expires)
