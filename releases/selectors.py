"""Reads of release management that are more than a filter: deployment progress, the release
log, what a release recorded for a CI, who may be assigned to a wave and whose targets are
whose."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Value, When, Window
from django.db.models.functions import RowNumber

from itsm import roles
from itsm.audit import entries_for
from itsm.exceptions import ApplicationError
from itsm.models import AuditEntry

from .choices import TargetState
from .models import Deployment, DeploymentEvent, DeploymentStep, DeploymentTarget, Release

#: Targets listed per wave in the progress answer (the failing ones first); every wave gives
#: its full counts whatever the cap.
DEFAULT_TARGETS_PER_WAVE = 50
MAX_TARGETS_PER_WAVE = 500
#: The tail of each step's log kept in the progress answer.
LOG_TAIL = 4000

FINISHED = (
    TargetState.SUCCEEDED,
    TargetState.FAILED,
    TargetState.SKIPPED,
    TargetState.BACKED_OUT,
)
#: Listed first: what a person must look at.
ATTENTION = Case(
    When(state__in=(TargetState.FAILED, TargetState.LOST), then=Value(0)),
    When(state__in=(TargetState.RUNNING, TargetState.BACKING_OUT), then=Value(1)),
    default=Value(2),
    output_field=IntegerField(),
)


def _percent(counts: dict[str, int]) -> float:
    total = sum(counts.values())
    if not total:
        return 100.0
    return round(100.0 * sum(counts.get(s, 0) for s in FINISHED) / total, 1)


def deployment_progress(
    deployment: Deployment | None, *, targets_per_wave: int = DEFAULT_TARGETS_PER_WAVE
) -> dict[str, Any]:
    """The progress of a deployment in the contract's shape, in a fixed number of queries whatever its size:
    `{"status", "percent", "waves": [{"name", "status", "percent", "targets": [{"ci", "state",
    "steps": [{"name", "state", "attempt", "log"}]}]}]}`, plus counts per state, the
    deployment's window (`window_start`, `window_end`, None when open) and `target_count` per
    wave (targets are capped at `targets_per_wave`, failing ones first)."""
    if deployment is None:
        return {"status": "not_deployed", "percent": 0.0, "waves": []}
    cap = max(0, min(int(targets_per_wave), MAX_TARGETS_PER_WAVE))
    waves = list(deployment.waves.select_related("technician").order_by("order"))
    wave_technician = {w.pk: w.technician.get_username() if w.technician else None for w in waves}
    counts: dict[int, dict[str, int]] = {w.pk: {} for w in waves}
    for row in (
        DeploymentTarget.objects.filter(deployment=deployment)
        .values("wave_id", "state")
        .annotate(n=Count("id"))
        .order_by()
    ):
        counts[row["wave_id"]][row["state"]] = row["n"]
    targets: list[DeploymentTarget] = []
    if cap:
        targets = list(
            DeploymentTarget.objects.filter(deployment=deployment)
            .annotate(
                attention=ATTENTION,
                rank=Window(
                    RowNumber(),
                    partition_by=[F("wave_id")],
                    order_by=[ATTENTION.asc(), F("id").asc()],
                ),
            )
            .filter(rank__lte=cap)
            .select_related("ci", "technician")
            .order_by("wave_id", "attention", "id")
        )
    steps: dict[int, list[dict[str, Any]]] = {t.pk: [] for t in targets}
    for step in (
        DeploymentStep.objects.filter(target_id__in=list(steps))
        .order_by("target_id", "order")
        .values("target_id", "name", "phase", "state", "attempt", "log")
    ):
        steps[step["target_id"]].append(
            {
                "name": step["name"],
                "phase": step["phase"],
                "state": step["state"],
                "attempt": step["attempt"],
                "log": step["log"][-LOG_TAIL:],
            }
        )
    by_wave: dict[int, list[dict[str, Any]]] = {w.pk: [] for w in waves}
    for target in targets:
        by_wave[target.wave_id].append(
            {
                "id": target.pk,
                "ci": target.ci_id,
                "ci_name": target.ci.name,
                "ci_owner": target.ci.owner_id,
                "state": target.state,
                # The target's own technician, else its wave's (None: any technician).
                "technician": target.technician.get_username()
                if target.technician
                else wave_technician[target.wave_id],
                "steps": steps[target.pk],
            }
        )
    overall: dict[str, int] = {}
    for wave_counts in counts.values():
        for state, n in wave_counts.items():
            overall[state] = overall.get(state, 0) + n
    return {
        "deployment": deployment.pk,
        "status": deployment.status,
        "reason": deployment.reason,
        # The deployment's own window (None: that end is open); set_window changes it.
        "window_start": deployment.window_start,
        "window_end": deployment.window_end,
        "executor": deployment.executor,
        "simulated": bool((deployment.simulation or {}).get("simulated")),
        "percent": _percent(overall),
        "counts": overall,
        "waves": [
            {
                "id": wave.pk,
                "name": wave.name,
                "status": wave.status,
                "gate": wave.gate,
                "technician": wave_technician[wave.pk],
                "bake_until": wave.bake_until,
                "reason": wave.reason,
                "percent": _percent(counts[wave.pk]),
                "counts": counts[wave.pk],
                "target_count": sum(counts[wave.pk].values()),
                "targets": by_wave[wave.pk],
            }
            for wave in waves
        ],
    }


def latest_deployment(release: Release) -> Deployment | None:
    """The release's most recent deployment."""
    return release.deployments.order_by("-created", "-id").first()


def release_progress(
    release: Release, *, targets_per_wave: int = DEFAULT_TARGETS_PER_WAVE
) -> dict[str, Any]:
    """The progress of the release's latest deployment (see `deployment_progress`)."""
    return deployment_progress(latest_deployment(release), targets_per_wave=targets_per_wave)


def release_log(release: Release) -> QuerySet[AuditEntry]:
    """The release log: every recorded change of the release, newest first."""
    return entries_for(release)


def deployment_events(deployment: Deployment, *, limit: int = 200) -> list[DeploymentEvent]:
    """The newest events of a deployment's event log."""
    return list(deployment.events.order_by("-id")[:limit])


def recorded_software(ci_id: int) -> list[dict[str, str]] | None:
    """What the latest succeeded release target recorded as the CI's software (None when no
    release recorded anything for it): the expected state an agent report is checked
    against."""
    target = (
        DeploymentTarget.objects.filter(ci_id=ci_id, state=TargetState.SUCCEEDED)
        .exclude(recorded_state={})
        .order_by("-finished_at", "-id")
        .values("recorded_state", "deployment__release__number")
        .first()
    )
    if target is None:
        return None
    return target["recorded_state"].get("software")


# --- technicians ---------------------------------------------------------------------------

#: The roles whose members may be put in charge of a wave or a target.
TECHNICIAN_ROLES = (roles.DEPLOYMENT_TECHNICIAN, roles.RELEASE_MANAGER)


def eligible_technicians() -> QuerySet:
    """Active users holding the Deployment Technician or Release Manager role, by username:
    who may be assigned to a wave or a target."""
    return (
        get_user_model()
        .objects.filter(is_active=True, groups__name__in=TECHNICIAN_ROLES)
        .distinct()
        .order_by("username")
    )


def technicians_by_username(names: Iterable[str], *, field: str = "technician") -> dict[str, Any]:
    """The users named `names` (usernames), each checked eligible; refuses (400, the problem
    under `field`) an unknown user, an inactive one, or one without the role. Two queries."""
    wanted = sorted({name for name in names if name})
    if not wanted:
        return {}
    found = {u.get_username(): u for u in eligible_technicians().filter(username__in=wanted)}
    missing = [name for name in wanted if name not in found]
    if missing:
        known = set(
            get_user_model().objects.filter(username__in=missing).values_list("username", flat=True)
        )
        name = missing[0]
        message = (
            f"“{name}” is neither an active Deployment Technician nor a Release Manager."
            if name in known
            else f"No user “{name}”."
        )
        raise ApplicationError(message, extra={field: [message]})
    return found


def assigned_to(user: AbstractBaseUser | AnonymousUser) -> Q:
    """Targets assigned to `user`: his own by a per-target assignment, or in a wave of his
    when the target has no technician of its own."""
    if not user.is_authenticated:
        return Q(pk__in=[])
    return Q(technician=user) | Q(technician__isnull=True, wave__technician=user)


def my_targets(user: AbstractBaseUser | AnonymousUser) -> Q:
    """ "My targets": assigned to `user` (see `assigned_to`), or of a CI he owns in the CMDB."""
    if not user.is_authenticated:
        return Q(pk__in=[])
    return assigned_to(user) | Q(ci__owner=user)


#: Targets nobody is assigned to (any technician may act on them).
UNASSIGNED = Q(technician__isnull=True, wave__technician__isnull=True)
