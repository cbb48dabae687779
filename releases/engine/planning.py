"""Planning a deployment: the release's targets (its saved CMDB filter) split into waves, and a
wave's steps created when it starts."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from django.db.models import QuerySet
from django.http import QueryDict
from django.utils import timezone

from cmdb.filtersets import CIFilterSet
from cmdb.models import ConfigurationItem
from itsm.exceptions import ApplicationError

from .. import sql
from ..choices import GateKind, StepPhase, StepState, TargetState
from ..models import (
    Deployment,
    DeploymentStep,
    DeploymentTarget,
    DeploymentWave,
    PackageStep,
    Release,
)
from ..selectors import technicians_by_username
from . import cmdb_follow
from .transitions import log_event

#: Without a wave plan: a pilot of one CI signed off by a person, then everything else.
DEFAULT_WAVE_PLAN: list[dict[str, Any]] = [
    {"name": "Pilot", "selector": {"pilot": 1}, "gate": {"kind": GateKind.MANUAL}},
    {"name": "Everything else", "selector": {}, "gate": {"kind": GateKind.MANUAL}},
]
SELECTOR_KEYS = {"pilot", "ci", "filter", "percent"}


def _query(params: Mapping[str, Any]) -> QueryDict:
    query = QueryDict(mutable=True)
    for key, value in (params or {}).items():
        for item in value if isinstance(value, list | tuple) else [value]:
            query.appendlist(str(key), str(item))
    return query


def resolve_filter(params: Mapping[str, Any]) -> QuerySet[ConfigurationItem]:
    """The CIs a saved filter selects: the query parameters of /api/v1/cmdb/cis/, through the
    CMDB's own FilterSet (unknown parameters and invalid values are refused, 400)."""
    if not isinstance(params, Mapping):
        raise ApplicationError("A target filter is an object of CI list query parameters.")
    unknown = set(params) - set(CIFilterSet.base_filters)
    if unknown:
        raise ApplicationError(
            f"Unknown CI filter parameters: {', '.join(sorted(unknown))}.",
            extra={"target_filter": sorted(unknown)},
        )
    filterset = CIFilterSet(_query(params), queryset=ConfigurationItem.objects.all())
    if not filterset.is_valid():
        raise ApplicationError(
            "The target filter is invalid.", extra={"target_filter": filterset.errors}
        )
    return filterset.qs.order_by("pk")


def check_wave_plan(plan: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Validate a wave plan; returns it with defaults filled in (400 on anything wrong). A
    wave's `technician` (a username) must be an active Deployment Technician or Release
    Manager."""
    if not isinstance(plan, list | tuple):
        raise ApplicationError("The wave plan is a list of waves.")
    cleaned = []
    technicians: list[str] = []
    for index, wave in enumerate(plan):
        if not isinstance(wave, Mapping):
            raise ApplicationError(f"Wave {index + 1} is not an object.")
        selector = wave.get("selector") or {}
        gate = wave.get("gate") or {}
        if not isinstance(selector, Mapping) or set(selector) - SELECTOR_KEYS:
            raise ApplicationError(
                f"Wave {index + 1}: a selector has pilot, ci, filter or percent."
            )
        if not isinstance(gate, Mapping):
            raise ApplicationError(f"Wave {index + 1}: the gate is an object.")
        kind = gate.get("kind", GateKind.MANUAL)
        if kind not in GateKind.values:
            raise ApplicationError(f"Wave {index + 1}: gate kind is manual or automatic.")
        try:
            values = {
                "min_success_pct": int(gate.get("min_success_pct", 100)),
                "bake_minutes": int(gate.get("bake_minutes", 0)),
                "max_new_incidents": int(gate.get("max_new_incidents", 0)),
            }
        except (TypeError, ValueError) as exc:
            raise ApplicationError(f"Wave {index + 1}: gate values are integers.") from exc
        if not 0 <= values["min_success_pct"] <= 100 or min(values.values()) < 0:
            raise ApplicationError(f"Wave {index + 1}: gate values out of range.")
        if "filter" in selector:
            resolve_filter(selector["filter"])  # validates
        technician = wave.get("technician") or None
        if technician is not None and not isinstance(technician, str):
            raise ApplicationError(f"Wave {index + 1}: the technician is a username.")
        entry = {
            "name": str(wave.get("name") or f"Wave {index + 1}")[:100],
            "selector": dict(selector),
            "gate": {"kind": kind, **values},
        }
        if technician:
            username = technician.strip()
            entry["technician"] = username
            technicians.append(username)
        cleaned.append(entry)
    technicians_by_username(technicians, field="wave_plan")  # validates
    return cleaned


def _select(selector: Mapping[str, Any], remaining: list[int], total: int) -> list[int]:
    if "pilot" in selector:
        return remaining[: max(0, int(selector["pilot"]))]
    if "percent" in selector:
        return remaining[: math.ceil(total * float(selector["percent"]) / 100)]
    if "ci" in selector:
        wanted = {int(pk) for pk in selector["ci"]}
        return [pk for pk in remaining if pk in wanted]
    if "filter" in selector:
        wanted = set(resolve_filter(selector["filter"]).values_list("pk", flat=True))
        return [pk for pk in remaining if pk in wanted]
    return list(remaining)


def plan_waves(*, deployment: Deployment, release: Release, plan: list[dict[str, Any]]) -> int:
    """Create the deployment's waves and targets (no steps yet). CIs no selector takes go to
    the last wave; empty waves are left out. Returns the number of targets."""
    ci_ids = list(resolve_filter(release.target_filter or {}).values_list("pk", flat=True))
    if not ci_ids:
        raise ApplicationError("The release's target filter selects no CI.")
    plan = plan or DEFAULT_WAVE_PLAN
    remaining = list(ci_ids)
    chosen: list[list[int]] = []
    for index, wave in enumerate(plan):
        last = index == len(plan) - 1
        picked = list(remaining) if last else _select(wave["selector"], remaining, len(ci_ids))
        taken = set(picked)
        remaining = [pk for pk in remaining if pk not in taken]
        chosen.append(picked)
    technicians = technicians_by_username(
        [wave["technician"] for wave in plan if wave.get("technician")], field="wave_plan"
    )
    order = 0
    for wave, picked in zip(plan, chosen, strict=True):
        if not picked:
            continue
        order += 1
        gate = wave.get("gate") or {}
        technician = technicians.get(wave.get("technician") or "")
        row = DeploymentWave.objects.create(
            deployment=deployment,
            order=order,
            name=wave["name"],
            selector=wave["selector"],
            gate=gate.get("kind", GateKind.MANUAL),
            min_success_pct=gate.get("min_success_pct", 100),
            bake_minutes=gate.get("bake_minutes", 0),
            max_new_incidents=gate.get("max_new_incidents", 0),
            technician=technician,
        )
        if technician is not None:
            log_event(
                row,
                "technician",
                f"technician of wave “{row.name}”: {technician.get_username()} (wave plan)",
                data={"old": None, "new": technician.get_username()},
            )
        DeploymentTarget.objects.bulk_create(
            [DeploymentTarget(deployment=deployment, wave=row, ci_id=pk) for pk in picked],
            batch_size=2000,
        )
    sql.refresh_statistics(DeploymentTarget, len(ci_ids))
    return len(ci_ids)


def create_steps(
    wave: DeploymentWave, package_steps: Sequence[PackageStep]
) -> list[tuple[int, int]]:
    """Record the targets' state before, create their install and verify steps, move them to
    running. Returns (step id, attempt) of each target's first step, to dispatch."""
    targets = list(DeploymentTarget.objects.filter(wave=wave, state=TargetState.PENDING))
    cmdb_follow.capture_prior(targets)
    DeploymentTarget.objects.bulk_update(targets, ["prior_state"], batch_size=1000)
    now = timezone.now()
    steps = [
        DeploymentStep(
            deployment_id=wave.deployment_id,
            target=target,
            order=index + 1,
            name=ps.name,
            phase=ps.phase,
            module=ps.module,
            params=ps.params,
            condition=ps.condition,
            success_test=ps.success_test,
            artifact_id=ps.artifact_id,
            idempotent=ps.idempotent,
            dispatched_at=now if index == 0 else None,
        )
        for target in targets
        for index, ps in enumerate(package_steps)
    ]
    DeploymentStep.objects.bulk_create(steps, batch_size=2000)
    sql.refresh_statistics(DeploymentStep, len(steps))
    from .transitions import transition_many

    transition_many(
        DeploymentTarget,
        [t.pk for t in targets],
        TargetState.RUNNING,
        expected_from=TargetState.PENDING,
        deployment_id=wave.deployment_id,
        event=f"wave {wave.name} started",
        updates={"started_at": now},
    )
    firsts = DeploymentStep.objects.filter(
        target__wave=wave, order=1, state=StepState.PENDING
    ).values_list("pk", "attempt")
    return list(firsts)


def install_steps(release: Release) -> list[PackageStep]:
    """The package's install steps then its verify steps, in order."""
    if release.package_id is None:
        return []
    steps = list(
        PackageStep.objects.filter(
            package_id=release.package_id, phase__in=(StepPhase.INSTALL, StepPhase.VERIFY)
        )
    )
    phase_rank = {StepPhase.INSTALL: 0, StepPhase.VERIFY: 1}
    steps.sort(key=lambda s: (phase_rank[s.phase], s.order))
    return steps


def backout_steps(release: Release) -> list[PackageStep]:
    """The package's backout steps, in order."""
    if release.package_id is None:
        return []
    return list(
        PackageStep.objects.filter(package_id=release.package_id, phase=StepPhase.BACKOUT).order_by(
            "order"
        )
    )
