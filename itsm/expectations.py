"""What other apps expect a CI to hold, for the agents to check each report against.

A higher app (releases: what a deployment recorded as installed or removed) registers a check
in its `AppConfig.ready()`; the agents call `software_findings` after applying a report's
software, without importing that app. A check is called as `check(ci_id=..., software=[{"name",
"vendor", "version"}, ...])` and returns findings `(key, message, detail)`, each the subject
of a discrepancy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Finding = tuple[str, str, dict[str, Any]]
SoftwareCheck = Callable[..., list[Finding]]

_software_checks: list[SoftwareCheck] = []


def register_software_check(check: SoftwareCheck) -> SoftwareCheck:
    """Add a check (registering it twice is a no-op)."""
    if all(existing is not check for existing in _software_checks):
        _software_checks.append(check)
    return check


def unregister_software_check(check: SoftwareCheck) -> None:
    """Remove a check (tests)."""
    _software_checks[:] = [c for c in _software_checks if c is not check]


def software_findings(*, ci_id: int, software: list[dict[str, Any]]) -> list[Finding]:
    """Every registered check's findings about the software a report says the CI has."""
    return [
        finding for check in _software_checks for finding in check(ci_id=ci_id, software=software)
    ]
