"""Verification after a deployment: when an agent's report disagrees with what a release
recorded for the CI (a package it installed missing or at another version, a package it
removed back), the agents open a `release_mismatch` discrepancy. Registered with
`itsm.expectations` in `ReleasesConfig.ready()`, so the agents never import releases."""

from __future__ import annotations

from typing import Any

from cmdb.models import software_key

from .choices import TargetState
from .models import DeploymentTarget


def release_expectations(ci_id: int) -> tuple[str, dict[str, Any]] | None:
    """(release number, what it expects) of the latest release that succeeded on the CI and
    was not backed out; None when no release recorded anything for it."""
    row = (
        DeploymentTarget.objects.filter(ci_id=ci_id, state=TargetState.SUCCEEDED)
        .exclude(recorded_state={})
        .order_by("-finished_at", "-id")
        .values_list("deployment__release__number", "recorded_state")
        .first()
    )
    if row is None:
        return None
    return row[0], row[1] or {}


def software_check(*, ci_id: int, software: list[dict[str, Any]]) -> list[tuple[str, str, dict]]:
    """Findings about a reported software list against the latest release on the CI."""
    found = release_expectations(ci_id)
    if found is None:
        return []
    number, recorded = found
    reported: dict[str, set[str]] = {}
    for item in software:
        reported.setdefault(software_key(str(item.get("name", ""))), set()).add(
            str(item.get("version", ""))
        )
    findings = []
    for item in recorded.get("present", []):
        versions = reported.get(software_key(item["name"]), set())
        if item.get("version", "") not in versions:
            seen = ", ".join(sorted(versions)) or "absent"
            findings.append(
                (
                    f"{number}:{item['name']}"[:255],
                    f"Release {number} installed {item['name']} {item.get('version', '')}; "
                    f"the agent reports {seen}.",
                    {"release": number, "expected": item, "reported": sorted(versions)},
                )
            )
    for name in recorded.get("absent", []):
        versions = reported.get(software_key(name), set())
        if versions:
            findings.append(
                (
                    f"{number}:{name}"[:255],
                    f"Release {number} removed {name}; the agent reports it installed "
                    f"({', '.join(sorted(versions))}).",
                    {"release": number, "expected_absent": name, "reported": sorted(versions)},
                )
            )
    return findings
