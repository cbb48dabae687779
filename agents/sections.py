"""The sections of an inventory report, applied to one CI (called by `reconcile`).

Each applier writes through a CMDB service (history, validation) and only what the agent owns
(cmdb.FieldOwner); what the CMDB should look at is raised as a discrepancy in the `Outcome`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from cmdb import identifiers as cmdb_identifiers
from cmdb import services as cmdb_services
from cmdb.inventory_services import ci_set_network_interfaces, ci_set_storage_volumes
from cmdb.models import ConfigurationItem, FieldOwner
from itsm.expectations import software_findings

from .choices import DiscrepancyKind, EventSeverity
from .discrepancies import discrepancy_open_or_refresh, discrepancy_open_or_refresh_many
from .inventory.identity import normalize_hostname
from .matching import _other_ci_with_identity
from .models import CIEvent, InventoryReport

ATTRIBUTE_LIMIT = 200


@dataclass
class Outcome:
    """What a report changed: returned by `reconcile` and stored as the report's summary."""

    ci_id: int | None = None
    created: bool = False
    matched_by: str = ""
    changed_sections: list[str] = field(default_factory=list)
    unchanged_sections: list[str] = field(default_factory=list)
    discrepancies: list[str] = field(default_factory=list)
    events: int = 0
    raise_incidents: bool = False
    #: The report being applied: discrepancies it opens or sees again point at it.
    report: InventoryReport | None = None

    def as_dict(self) -> dict[str, Any]:
        summary = self.__dict__.copy()
        del summary["report"]
        return summary


def section_hash(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:32]


def agent_owns(owners: dict[str, str], name: str) -> bool:
    return owners.get(name, FieldOwner.Owner.PEOPLE) == FieldOwner.Owner.AGENT


def usable_hostname(value: Any, ci: ConfigurationItem | None = None) -> str:
    """The reported host name if the CMDB accepts it for this CI, else "" (not reported):
    inventories carry names like `pc_test`, and several machines may share one."""
    hostname = normalize_hostname(value)
    if ci is not None and hostname == ci.hostname:
        return hostname  # unchanged: no query
    if not cmdb_identifiers.is_valid_hostname(hostname):
        return ""
    if cmdb_services.hostname_taken(hostname, exclude_id=ci.pk if ci else None):
        return ""
    return hostname


def usable_uuid(value: Any) -> str:
    """The reported UUID if it is a real one (hexadecimal), else "": some inventories send
    `4BDRGGFE-…` or made-up strings, which the CMDB does not store as a UUID."""
    uuid = cmdb_identifiers.normalize_uuid(value or "")
    return uuid if cmdb_identifiers.is_valid_uuid(uuid) else ""


# --- applying sections --------------------------------------------------------------------


def _bounded(value: Any) -> Any:
    return value[:ATTRIBUTE_LIMIT] if isinstance(value, str) else value


def _attribute_updates(report: dict, sections: set[str]) -> dict[str, Any]:
    device = report["device"]
    updates: dict[str, Any] = {}
    if "device" in sections:
        updates["manufacturer"] = device.get("manufacturer") or None
        updates["model"] = device.get("model") or None
    if "os" in sections:
        os_info = device.get("os") or {}
        if report.get("item_type") in ("printer", "network_equipment"):
            updates["firmware"] = os_info.get("version") or None
        else:
            updates["os"] = os_info.get("name") or None
            updates["os_version"] = os_info.get("version") or None
            updates["kernel"] = os_info.get("kernel") or None
    if "hardware" in sections:
        cpu = device.get("cpu") or {}
        updates["cpu_model"] = cpu.get("model") or None
        updates["cpu_cores"] = cpu.get("cores") or None
        updates["memory_mb"] = device.get("memory_mb")
    if "security" in sections:
        updates["security"] = report.get("security") or None
    return {key: _bounded(value) for key, value in updates.items()}


def _apply_fields(
    ci: ConfigurationItem, report: dict, sections: set[str], owners: dict, context, out
) -> None:
    """Agent-owned identity fields and attributes, through the CMDB service (history, validation)."""
    data: dict[str, Any] = {}
    device = report["device"]
    if "device" in sections:
        for name in ("hostname", "uuid", "serial_number"):
            value = device.get(name) or ""
            if name == "hostname":
                value = usable_hostname(value, ci)
            elif name == "uuid":
                value = usable_uuid(value)
            if value and agent_owns(owners, name):
                data[name] = value
    attributes = dict(ci.attributes)
    for key, value in _attribute_updates(report, sections).items():
        if not agent_owns(owners, f"attributes.{key}"):
            continue
        if value is None or value == "" or value == {}:
            continue  # "not reported": keep what the CMDB knows
        attributes[key] = value
    if attributes != ci.attributes:
        data["attributes"] = attributes
    conflict_id = _other_ci_with_identity(
        {
            "uuids": {data["uuid"]} if data.get("uuid") else set(),
            "serial": data.get("serial_number", ""),
        },
        ci.pk,
    )
    if conflict_id is not None:
        conflict = ConfigurationItem.objects.only("name", "uuid", "serial_number").get(
            pk=conflict_id
        )
        for name in ("uuid", "serial_number"):
            if data.get(name) and getattr(conflict, name).upper() == data[name].upper():
                data.pop(name)
                out.discrepancies.append(
                    _raise(
                        ci,
                        DiscrepancyKind.IDENTITY_CONFLICT,
                        name,
                        f"The reported {name} belongs to {conflict}.",
                        {"other_ci": conflict.pk},
                        out,
                    )
                )
    data = {k: v for k, v in data.items() if getattr(ci, k) != v}
    if data:
        try:
            cmdb_services.ci_update(context=context, ci_id=ci.pk, data=data, expected_version=None)
        except ValidationError as exc:  # invalid for the type's schema: keep the rest of the report
            bad = set(exc.message_dict)
            cmdb_services.ci_update(
                context=context,
                ci_id=ci.pk,
                data={k: v for k, v in data.items() if k not in bad},
                expected_version=None,
            )
        ci.refresh_from_db()


def _apply_network(ci: ConfigurationItem, interfaces: list[dict], context) -> bool:
    change = ci_set_network_interfaces(context=context, ci=ci, interfaces=interfaces)
    return bool(change["added"] or change["removed"] or change["changed"])


def _apply_storage(ci: ConfigurationItem, volumes: list[dict], context, out, is_new: bool) -> bool:
    change = ci_set_storage_volumes(context=context, ci=ci, volumes=volumes)
    if not is_new and (change["added"] or change["removed"] or change["resized"]):
        out.discrepancies.append(
            _raise(
                ci,
                DiscrepancyKind.HARDWARE_CHANGED,
                "storage",
                "The disks of this machine changed.",
                {
                    "added": change["added"],
                    "removed": change["removed"],
                    "resized": change["resized"],
                },
                out,
            )
        )
    return change["changed"]


def _apply_software(
    ci: ConfigurationItem, software: list[dict], context, out, had_software: bool
) -> bool:
    change = cmdb_services.software_replace(context=context, ci=ci, items=software)
    if had_software and change["added"]:
        # After the first inventory, software appearing on its own was not put there by a
        # release (those are recorded as installed before the agent sees them).
        found = [
            (
                f"{item['name']} {item['version']}".strip()[:255],
                f"{item['name']} {item['version']} appeared without an approved change or release.",
                item,
            )
            for item in change["added"]
        ]
        discrepancy_open_or_refresh_many(
            ci=ci,
            kind=DiscrepancyKind.UNAPPROVED_SOFTWARE,
            found=found,
            raise_incident=out.raise_incidents,
            report=out.report,
        )
        out.discrepancies += [f"{DiscrepancyKind.UNAPPROVED_SOFTWARE}:{key}" for key, _, _ in found]
    if change["added"] or change["removed"]:
        _check_expectations(ci, software, out)
    return bool(change["added"] or change["removed"])


def _check_expectations(ci: ConfigurationItem, software: list[dict], out) -> None:
    """What other apps expect (a release's installs and removals: itsm.expectations) against
    the reported software: a `release_mismatch` discrepancy per difference."""
    found = software_findings(ci_id=ci.pk, software=software)
    if not found:
        return
    discrepancy_open_or_refresh_many(
        ci=ci,
        kind=DiscrepancyKind.RELEASE_MISMATCH,
        found=found,
        raise_incident=out.raise_incidents,
        report=out.report,
    )
    out.discrepancies += [f"{DiscrepancyKind.RELEASE_MISMATCH}:{key}" for key, _, _ in found]


def _severity(kind: str) -> str:
    return {"failed_login": EventSeverity.WARNING, "disk_nearly_full": EventSeverity.WARNING}.get(
        kind, EventSeverity.INFO
    )


def _apply_events(ci: ConfigurationItem, events: list[dict], report: InventoryReport) -> int:
    fallback = report.collected_at or timezone.now()
    rows = []
    for event in events:
        at = parse_datetime(event["at"]) if event.get("at") else None
        if at is not None and timezone.is_naive(at):
            at = timezone.make_aware(at, dt.UTC)
        rows.append(
            CIEvent(
                ci=ci,
                report=report,
                at=at or fallback,
                kind=event["kind"][:50],
                severity=_severity(event["kind"]),
                detail=(event.get("detail") or "")[:2000],
                fingerprint=section_hash(
                    [event.get("at") or str(fallback), event["kind"], event.get("detail")]
                ),
            )
        )
    CIEvent.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def _raise(ci, kind: str, key: str, message: str, detail: dict, out: Outcome) -> str:
    """Open a discrepancy (raising an incident if the agent's policy says so), or refresh it."""
    discrepancy_open_or_refresh(
        ci=ci,
        kind=kind,
        key=key,
        message=message,
        detail=detail,
        raise_incident=out.raise_incidents,
        report=out.report,
    )
    return f"{kind}:{key}"


def _hardware_changes(
    ci: ConfigurationItem, report: dict, sections: set[str], context, out
) -> None:
    device = report["device"]
    reported_serial = device.get("serial_number") or ""
    if (
        "device" in sections
        and ci.serial_number
        and reported_serial
        and ci.serial_number.upper() != reported_serial.upper()
    ):
        out.discrepancies.append(
            _raise(
                ci,
                DiscrepancyKind.HARDWARE_CHANGED,
                "serial_number",
                f"Serial number changed from {ci.serial_number} to {device['serial_number']}.",
                {"old": ci.serial_number, "new": device["serial_number"]},
                out,
            )
        )
    old_memory = ci.attributes.get("memory_mb")
    if (
        "hardware" in sections
        and old_memory
        and device.get("memory_mb")
        and old_memory != device["memory_mb"]
    ):
        out.discrepancies.append(
            _raise(
                ci,
                DiscrepancyKind.HARDWARE_CHANGED,
                "memory_mb",
                f"Memory changed from {old_memory} MB to {device['memory_mb']} MB.",
                {"old": old_memory, "new": device["memory_mb"]},
                out,
            )
        )
