"""The CMDB follows the deployment: a target's software and attributes are written through the
CMDB services, with the release as source, as the target succeeds; a backout restores what the
target held before (`prior_state`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from cmdb.history import ChangeContext
from cmdb.models import ConfigurationItem, InstalledSoftware, software_key
from cmdb.services import ci_update
from cmdb.software_services import software_replace
from itsm.choices import ChangeSource

from ..choices import StepModule, StepPhase, StepState
from ..models import DeploymentStep, DeploymentTarget


def release_context(number: str, reason: str = "") -> ChangeContext:
    """The change context of what the engine writes: the system, source `release`, the number."""
    return ChangeContext(actor=None, source=ChangeSource.RELEASE, source_ref=number, reason=reason)


def software_of(ci_ids: Iterable[int]) -> dict[int, list[dict[str, str]]]:
    """Installed software per CI, sorted, in one query."""
    found: dict[int, list[dict[str, str]]] = defaultdict(list)
    rows = InstalledSoftware.objects.filter(ci_id__in=list(ci_ids)).values_list(
        "ci_id", "software__product__name", "software__product__vendor", "software__version"
    )
    for ci_id, name, vendor, version in rows:
        found[ci_id].append({"name": name, "vendor": vendor, "version": version})
    for items in found.values():
        items.sort(key=lambda item: (item["name"].lower(), item["version"]))
    return found


def capture_prior(targets: list[DeploymentTarget]) -> None:
    """Fill each target's `prior_state` (software and attributes) from the CMDB, in two queries;
    the caller saves the targets."""
    ids = [t.ci_id for t in targets]
    software = software_of(ids)
    attributes = dict(ConfigurationItem.objects.filter(pk__in=ids).values_list("pk", "attributes"))
    for target in targets:
        target.prior_state = {
            "software": software.get(target.ci_id, []),
            "attributes": attributes.get(target.ci_id) or {},
        }


def _apply(
    software: list[dict[str, str]], attributes: dict[str, Any], steps: Iterable[DeploymentStep]
) -> tuple[list[dict[str, str]], dict[str, Any]]:
    software = [dict(item) for item in software]
    attributes = dict(attributes)
    for step in steps:
        if step.state != StepState.SUCCEEDED or step.phase != StepPhase.INSTALL:
            continue
        params = step.params or {}
        name = str(params.get("name", ""))
        if step.module == StepModule.INSTALL_PACKAGE and name:
            software = [s for s in software if software_key(s["name"]) != software_key(name)]
            software.append(
                {
                    "name": name,
                    "vendor": str(params.get("vendor", "")),
                    "version": str(params.get("version", "")),
                }
            )
        elif step.module == StepModule.REMOVE_PACKAGE and name:
            software = [s for s in software if software_key(s["name"]) != software_key(name)]
        elif step.module == StepModule.SET_ATTRIBUTES:
            attributes.update(params.get("attributes") or {})
    software.sort(key=lambda item: (item["name"].lower(), item["version"]))
    return software, attributes


def follow_success(target: DeploymentTarget, number: str) -> dict[str, Any]:
    """Write what the target's succeeded install steps changed into the CMDB (source: the
    release); returns what was recorded (kept on the target for the later verification)."""
    steps = list(target.steps.all().order_by("order"))
    if not any(
        s.module
        in (StepModule.INSTALL_PACKAGE, StepModule.REMOVE_PACKAGE, StepModule.SET_ATTRIBUTES)
        and s.state == StepState.SUCCEEDED
        for s in steps
    ):
        return {}
    ci = ConfigurationItem.objects.get(pk=target.ci_id)
    current = software_of([ci.pk]).get(ci.pk, [])
    software, attributes = _apply(current, ci.attributes or {}, steps)
    context = release_context(number, reason="Deployed by the release")
    if software != current:
        software_replace(context=context, ci=ci, items=software)
    if attributes != (ci.attributes or {}):
        ci_update(
            context=context, ci_id=ci.pk, data={"attributes": attributes}, expected_version=None
        )
    present, absent = _expectations(steps)
    return {"software": software, "attributes": attributes, "present": present, "absent": absent}


def _expectations(steps: Iterable[DeploymentStep]) -> tuple[list[dict[str, str]], list[str]]:
    """What the release's succeeded steps say the machine now has, and no longer has."""
    present: dict[str, dict[str, str]] = {}
    absent: dict[str, str] = {}
    for step in steps:
        if step.state != StepState.SUCCEEDED or step.phase != StepPhase.INSTALL:
            continue
        name = str((step.params or {}).get("name", ""))
        if not name:
            continue
        key = software_key(name)
        if step.module == StepModule.INSTALL_PACKAGE:
            present[key] = {"name": name, "version": str(step.params.get("version", ""))}
            absent.pop(key, None)
        elif step.module == StepModule.REMOVE_PACKAGE:
            absent[key] = name
            present.pop(key, None)
    return list(present.values()), list(absent.values())


def restore_prior(target: DeploymentTarget, number: str) -> None:
    """Put back in the CMDB what the target held before the release (source: the release)."""
    prior = target.prior_state or {}
    if not prior:
        return
    context = release_context(number, reason="Backed out by the release")
    ci = ConfigurationItem.objects.get(pk=target.ci_id)
    if software_of([ci.pk]).get(ci.pk, []) != prior.get("software", []):
        software_replace(context=context, ci=ci, items=prior.get("software", []))
    if (ci.attributes or {}) != prior.get("attributes", {}):
        ci_update(
            context=context,
            ci_id=ci.pk,
            data={"attributes": prior.get("attributes", {})},
            expected_version=None,
        )
