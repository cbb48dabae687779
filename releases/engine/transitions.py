"""The one transition function of the deployment engine.

`transition(obj, to_state, expected_from=..., expected_version=..., event=...)` is a conditional
UPDATE (`… WHERE id = %s AND state = %s AND version = %s`) plus its `DeploymentEvent` row, in one
transaction. Zero rows updated means someone else moved the row first: the caller gets False and
nothing is written, so a duplicate message or a racing worker never runs a move twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import models, transaction
from django.db.models import F
from django.utils import timezone

from itsm.exceptions import ApplicationError

from .. import sql
from ..choices import (
    DEPLOYMENT_TRANSITIONS,
    STEP_TRANSITIONS,
    TARGET_TRANSITIONS,
    WAVE_TRANSITIONS,
)
from ..models import (
    Deployment,
    DeploymentEvent,
    DeploymentStep,
    DeploymentTarget,
    DeploymentWave,
)


@dataclass(frozen=True)
class Machine:
    """The state column of a model, its allowed moves, and how its events name it."""

    field: str
    moves: Mapping[str, frozenset[str]]
    object_type: str


MACHINES: dict[type[models.Model], Machine] = {
    Deployment: Machine("status", DEPLOYMENT_TRANSITIONS, "deployment"),
    DeploymentWave: Machine("status", WAVE_TRANSITIONS, "wave"),
    DeploymentTarget: Machine("state", TARGET_TRANSITIONS, "target"),
    DeploymentStep: Machine("state", STEP_TRANSITIONS, "step"),
}


class IllegalMove(ApplicationError):
    """A move the transition table does not allow (a bug or a refused request: 400)."""


def check_move(model: type[models.Model], from_state: str, to_state: str) -> None:
    """Refuse a move the table of `model` does not allow."""
    machine = MACHINES[model]
    if to_state not in machine.moves.get(from_state, frozenset()):
        raise IllegalMove(
            f"A {machine.object_type} cannot move from {from_state} to {to_state}.",
            extra={"state": from_state, "allowed": sorted(machine.moves.get(from_state, ()))},
        )


def _deployment_id(obj: models.Model) -> int:
    return obj.pk if isinstance(obj, Deployment) else obj.deployment_id  # type: ignore[attr-defined]


def event_new(
    *,
    deployment_id: int,
    object_type: str,
    object_id: int,
    kind: str = "transition",
    from_state: str = "",
    to_state: str = "",
    message: str = "",
    data: dict[str, Any] | None = None,
) -> DeploymentEvent:
    """An unsaved event row (for `bulk_create`)."""
    return DeploymentEvent(
        deployment_id=deployment_id,
        at=timezone.now(),
        kind=kind,
        object_type=object_type,
        object_id=object_id,
        from_state=from_state,
        to_state=to_state,
        message=message[:10_000],
        data=data or {},
    )


def log_event(obj: models.Model, kind: str, message: str, data: dict | None = None) -> None:
    """An event that is not a move (a note in the deployment's log)."""
    machine = MACHINES[type(obj)]
    event_new(
        deployment_id=_deployment_id(obj),
        object_type=machine.object_type,
        object_id=obj.pk,
        kind=kind,
        message=message,
        data=data,
    ).save()


def transition(
    obj: models.Model,
    to_state: str,
    *,
    expected_from: str | Iterable[str] | None = None,
    expected_version: int | None = None,
    event: str = "",
    data: dict[str, Any] | None = None,
    updates: Mapping[str, Any] | None = None,
    where: Mapping[str, Any] | None = None,
    with_row: tuple[type[models.Model], Mapping[str, Any]] | None = None,
) -> bool:
    """Move `obj` to `to_state` if it is still in `expected_from` (default: the state `obj`
    holds) at `expected_version` (default: the version `obj` holds). Writes `updates` with it
    and an event row; bumps the version and refreshes `obj` in memory. Returns False (and
    writes nothing) when the row had moved on. `where` adds conditions (e.g. the attempt);
    `with_row` is one more row `(model, values)` written only if the move is."""
    model = type(obj)
    machine = MACHINES[model]
    current = getattr(obj, machine.field)
    froms = (
        [current]
        if expected_from is None
        else [expected_from]
        if isinstance(expected_from, str)
        else list(expected_from)
    )
    for from_state in froms:
        check_move(model, from_state, to_state)
    version = obj.version if expected_version is None else expected_version  # type: ignore[attr-defined]
    from_state = current if current in froms else froms[0]
    if sql.available() and not any(
        hasattr(v, "resolve_expression") for v in (updates or {}).values()
    ):
        moved = sql.transition_row(
            model,
            pk=obj.pk,
            state_field=machine.field,
            object_type=machine.object_type,
            froms=froms,
            from_state=from_state,
            to_state=to_state,
            version=version,
            updates=updates or {},
            where=where or {},
            message=event,
            data=data,
            now=timezone.now(),
            with_row=with_row,
        )
    else:
        moved = _transition_orm(
            obj, machine, froms, from_state, to_state, version, event, data, updates, where
        )
        if moved and with_row is not None:
            with_row[0]._default_manager.create(**with_row[1])
    if not moved:
        return False
    setattr(obj, machine.field, to_state)
    obj.version = version + 1  # type: ignore[attr-defined]
    for name, value in (updates or {}).items():
        if not hasattr(value, "resolve_expression"):
            setattr(obj, name, value)
    return True


def _transition_orm(
    obj: models.Model,
    machine: Machine,
    froms: list[str],
    from_state: str,
    to_state: str,
    version: int,
    event: str,
    data: dict[str, Any] | None,
    updates: Mapping[str, Any] | None,
    where: Mapping[str, Any] | None,
) -> bool:
    """The move through the ORM: the conditional UPDATE, then its event (SQLite, and updates
    holding expressions)."""
    model = type(obj)
    values = {machine.field: to_state, "version": F("version") + 1, **(updates or {})}
    with transaction.atomic(savepoint=False):
        changed = model._default_manager.filter(
            pk=obj.pk, version=version, **{f"{machine.field}__in": froms}, **(where or {})
        ).update(**values)
        if not changed:
            return False
        event_new(
            deployment_id=_deployment_id(obj),
            object_type=machine.object_type,
            object_id=obj.pk,
            from_state=from_state,
            to_state=to_state,
            message=event,
            data=data,
        ).save()
    return True


def transition_many(
    model: type[models.Model],
    ids: Iterable[int],
    to_state: str,
    *,
    expected_from: str,
    deployment_id: int,
    event: str = "",
    updates: Mapping[str, Any] | None = None,
) -> list[int]:
    """The same move for many rows at once (a wave's targets, a cancelled deployment's steps):
    one UPDATE … RETURNING-like pass and one bulk insert of events. Rows that had moved on are
    left alone. Returns the ids moved."""
    machine = MACHINES[model]
    check_move(model, expected_from, to_state)
    ids = list(ids)
    if not ids:
        return []
    with transaction.atomic(savepoint=False):
        moved = list(
            model._default_manager.select_for_update(skip_locked=True)
            .filter(pk__in=ids, **{machine.field: expected_from})
            .values_list("pk", flat=True)
        )
        if not moved:
            return []
        model._default_manager.filter(pk__in=moved, **{machine.field: expected_from}).update(
            **{machine.field: to_state, "version": F("version") + 1, **(updates or {})}
        )
        DeploymentEvent.objects.bulk_create(
            [
                event_new(
                    deployment_id=deployment_id,
                    object_type=machine.object_type,
                    object_id=pk,
                    from_state=expected_from,
                    to_state=to_state,
                    message=event,
                )
                for pk in moved
            ],
            batch_size=1000,
        )
    return moved
