"""The CMDB follows the deployment: a target's software and attributes are written through the
CMDB services, with the release as source, as the target succeeds; a backout restores what the
target held before (`prior_state`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cmdb.history import ChangeContext
from cmdb.models import ConfigurationItem, InstalledSoftware, software_key
from cmdb.services import ci_update
from cmdb.software_services import software_apply, software_replace
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


@dataclass
class Effects:
    """What a target's succeeded install steps did to the machine, in step order: the
    packages installed (by name key), the ones removed, the attributes set."""

    install: dict[str, dict[str, str]] = field(default_factory=dict)
    remove: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.install or self.remove or self.attributes)

    def recorded(self) -> dict[str, Any]:
        """What the target keeps for the verification after the deployment: the packages
        the release says are present (name, version) and absent, and the attributes it set."""
        return {
            "present": [
                {"name": item["name"], "version": item["version"]} for item in self.install.values()
            ],
            "absent": list(self.remove.values()),
            "attributes": self.attributes,
        }


CMDB_MODULES = (StepModule.INSTALL_PACKAGE, StepModule.REMOVE_PACKAGE, StepModule.SET_ATTRIBUTES)


def effects_of(target_id: int, *, steps: Iterable[DeploymentStep] | None = None) -> Effects:
    """The effects of the target's succeeded install steps: from `steps` (every step of the
    target, as recorded) when given, else read (one query, no model instances)."""
    if steps is not None:
        rows: Iterable[tuple[str, Any]] = [
            (s.module, s.params)
            for s in sorted(steps, key=lambda s: s.order)
            if s.state == StepState.SUCCEEDED
            and s.phase == StepPhase.INSTALL
            and s.module in CMDB_MODULES
        ]
    else:
        rows = (
            DeploymentStep.objects.filter(
                target_id=target_id,
                state=StepState.SUCCEEDED,
                phase=StepPhase.INSTALL,
                module__in=CMDB_MODULES,
            )
            .order_by("order")
            .values_list("module", "params")
        )
    effects = Effects()
    for module, params in rows:
        params = params or {}
        name = str(params.get("name", ""))
        if module == StepModule.SET_ATTRIBUTES:
            effects.attributes.update(params.get("attributes") or {})
        elif not name:
            continue
        elif module == StepModule.INSTALL_PACKAGE:
            key = software_key(name)
            effects.install[key] = {
                "name": name,
                "vendor": str(params.get("vendor", "")),
                "version": str(params.get("version", "")),
            }
            effects.remove.pop(key, None)
        else:  # REMOVE_PACKAGE
            key = software_key(name)
            effects.remove[key] = name
            effects.install.pop(key, None)
    return effects


def follow_success(ci_id: int, number: str, effects: Effects) -> None:
    """Write what the target's succeeded install steps changed into the CMDB (source: the
    release): only the packages they named are read and written, and the attributes they
    set."""
    if not effects:
        return
    context = release_context(number, reason="Deployed by the release")
    if effects.install or effects.remove:
        software_apply(
            context=context,
            ci_id=ci_id,
            install=list(effects.install.values()),
            remove=list(effects.remove.values()),
        )
    if effects.attributes:
        current = ConfigurationItem.objects.filter(pk=ci_id).values_list("attributes", flat=True)
        attributes = current.first() or {}
        if {**attributes, **effects.attributes} != attributes:
            ci_update(
                context=context,
                ci_id=ci_id,
                data={"attributes": {**attributes, **effects.attributes}},
                expected_version=None,
            )


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
