"""The inventory collector: builds an ``itsm-inventory/1`` report of this machine.

Sections switched off by the policy are left out of the report altogether (absent means "not
collected", so the server keeps what it knew), except ``device``, which always carries the
identity used to match the machine to its CI and the operating system. ``hardware`` covers
``device.cpu``, ``device.memory_mb`` and ``network``. Every source is read defensively: what cannot
be read gives an empty or null value, never an exception.
"""

from __future__ import annotations

import datetime
from typing import Any

from .. import __version__
from ._util import guarded, iso_utc
from .device import collect_device
from .events import combine, disk_events, failed_logins
from .network import collect_network
from .security import collect_security
from .software import collect_software
from .storage import filesystems

REPORT_FORMAT = "itsm-inventory/1"
AGENT_NAME = "itsm-agent"

__all__ = ["AGENT_NAME", "REPORT_FORMAT", "collect_report"]


def _enabled(policy: dict[str, Any] | None, section: str) -> bool:
    collect = (policy or {}).get("collect") or {}
    value = collect.get(section, True) if isinstance(collect, dict) else True
    return value is not False


def collect_report(
    policy: dict[str, Any] | None = None, *, now: datetime.datetime | None = None
) -> dict[str, Any]:
    """Collect the report this machine would send under ``policy`` (None: everything)."""
    now = now or datetime.datetime.now(datetime.UTC)
    collected_at = iso_utc(now)
    hardware = _enabled(policy, "hardware")
    report: dict[str, Any] = {
        "format": REPORT_FORMAT,
        "collected_at": collected_at,
        "agent": {"name": AGENT_NAME, "version": __version__},
        "device": collect_device(hardware=hardware),
    }
    if hardware:
        report["network"] = guarded("network", collect_network, [])
    need_filesystems = _enabled(policy, "storage") or _enabled(policy, "events")
    mounted = guarded("storage", filesystems, []) if need_filesystems else []
    if _enabled(policy, "storage"):
        report["storage"] = [fs.as_report() for fs in mounted]
    if _enabled(policy, "software"):
        report["software"] = guarded("software", collect_software, [])
    if _enabled(policy, "security"):
        report["security"] = guarded("security", collect_security, {})
    if _enabled(policy, "events"):
        logins = guarded("events", lambda: failed_logins(now), [])
        report["events"] = combine(disk_events(mounted, collected_at), logins)
    return report
