"""Who acts on which deployment target.

A Release Manager puts a Deployment Technician (or another Release Manager) in charge of a wave
— from the release's wave plan (`"technician": "<username>"`) or later on the release page or
the API, while the wave has not finished — and may override it for one target. A Release
Manager acts on every target; a Deployment Technician retries or backs out only *his* targets:
assigned to him (the target's own technician, else its wave's), or of a CI he owns in the CMDB.
Nobody assigned: any technician may act (the team shares the wave).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from itsm.audit import ChangeContext, record
from itsm.exceptions import ApplicationError, PermissionDeniedError
from itsm.permissions import require_permission

from .choices import WaveStatus
from .engine.transitions import log_event
from .models import DeploymentTarget, DeploymentWave
from .selectors import technicians_by_username

__all__ = [
    "check_may_act",
    "may_act",
    "target_assign_technician",
    "wave_assign_technician",
]

#: A technician is assigned (or changed) only while the wave has not finished.
ASSIGNABLE_WAVE = frozenset(
    {WaveStatus.PENDING, WaveStatus.RUNNING, WaveStatus.WAITING, WaveStatus.HALTED}
)
#: Who assigns technicians, and who acts on any target whoever is assigned.
MANAGES = "releases.control_deployment"


def _name(user: Any) -> str | None:
    return user.get_username() if user is not None else None


def _resolve(username: str | None) -> Any:
    if username is None or not str(username).strip():
        return None
    name = str(username).strip()
    return technicians_by_username([name])[name]


def _check_open(wave: DeploymentWave) -> None:
    if wave.status not in ASSIGNABLE_WAVE:
        raise ApplicationError(
            f"Wave “{wave.name}” is {wave.get_status_display().lower()}: "
            "its technicians no longer change."
        )


def _assign(
    *,
    context: ChangeContext,
    obj: DeploymentWave | DeploymentTarget,
    wave: DeploymentWave,
    technician: str | None,
    subject: str,
    nobody: str,
    audit: dict[str, Any],
) -> None:
    """Put `technician` on `obj` (a wave or a target, locked by the caller) while `wave` has
    not finished; log it on the deployment and in the release's audit log. No write when the
    technician does not change."""
    _check_open(wave)
    user = _resolve(technician)
    if (user.pk if user else None) == obj.technician_id:
        return
    old, new = _name(obj.technician), _name(user)
    type(obj).objects.filter(pk=obj.pk).update(technician=user)
    obj.technician = user
    log_event(
        obj,
        "technician",
        f"technician of {subject}: {new or nobody} (was {old or nobody}), "
        f"assigned by {context.actor_name}",
        data={"old": old, "new": new},
    )
    record(
        obj=wave.deployment.release,
        kind="technician",
        changes={**audit, "technician": {"old": old, "new": new}},
        context=context,
    )


@transaction.atomic
def wave_assign_technician(
    *,
    context: ChangeContext,
    wave_id: int,
    technician: str | None,
    release_id: int | None = None,
) -> DeploymentWave:
    """Put `technician` (a username; None or "" for nobody) in charge of a wave that has not
    finished (Release Manager). Refused (400): an unknown user, one without the Deployment
    Technician or Release Manager role, a finished wave; nothing is written then. Recorded in
    the release log and the deployment's event log."""
    require_permission(context, MANAGES)
    wave = (
        DeploymentWave.objects.select_for_update(of=("self",))
        .select_related("deployment", "technician")
        .filter(pk=wave_id)
        .first()
    )
    if wave is None or (release_id is not None and wave.deployment.release_id != release_id):
        raise ApplicationError("No such wave in this release's deployment.")
    _assign(
        context=context,
        obj=wave,
        wave=wave,
        technician=technician,
        subject=f"wave “{wave.name}”",
        nobody="nobody",
        audit={"wave": {"old": None, "new": wave.name}},
    )
    return wave


@transaction.atomic
def target_assign_technician(
    *, context: ChangeContext, target_id: int, technician: str | None
) -> DeploymentTarget:
    """Put `technician` in charge of one target, overriding its wave's (None or "": the
    wave's technician again). Same rules and records as `wave_assign_technician`."""
    require_permission(context, MANAGES)
    target = (
        DeploymentTarget.objects.select_for_update(of=("self",))
        .select_related("wave__deployment", "ci", "technician")
        .filter(pk=target_id)
        .first()
    )
    if target is None:
        raise ApplicationError("No such target.")
    _assign(
        context=context,
        obj=target,
        wave=target.wave,
        technician=technician,
        subject=target.ci.name,
        nobody="the wave's technician",
        audit={"target": {"old": None, "new": target.ci_id}},
    )
    return target


def may_act(user: Any, *, technician: str | None, ci_owner_id: int | None) -> bool:
    """Whether `user` may retry or back out a target whose effective technician (its own,
    else its wave's) is the username `technician` and whose CI `ci_owner_id` owns. No query
    (permissions are cached on the user)."""
    if user is None:
        return True  # the system itself
    if not user.has_perm("releases.change_deploymentstep"):
        return False
    if user.has_perm(MANAGES) or technician is None:
        return True
    return technician == user.get_username() or (ci_owner_id is not None and ci_owner_id == user.pk)


def check_may_act(context: ChangeContext, target: DeploymentTarget, *, doing: str) -> None:
    """Refuse (403) a Deployment Technician acting on a target that is not his (one query,
    none for a Release Manager or the system)."""
    require_permission(context, "releases.change_deploymentstep")
    actor = context.actor
    if actor is None or actor.has_perm(MANAGES):
        return
    row = (
        DeploymentTarget.objects.filter(pk=target.pk)
        .values("technician__username", "wave__technician__username", "ci__owner_id", "ci__name")
        .get()
    )
    name = row["technician__username"] or row["wave__technician__username"]
    if may_act(actor, technician=name, ci_owner_id=row["ci__owner_id"]):
        return
    raise PermissionDeniedError(
        f"{row['ci__name']} is assigned to {name}: only {name}, the CI's owner or a Release "
        f"Manager may {doing} it."
    )
