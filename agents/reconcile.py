"""Reconciliation of a normalised inventory into the CMDB.

1. Match the report to a CI and check its key may update it (`matching.decide`: the key's
   bound CI, or a new CI for a machine the CMDB does not know; anything else is held).
2. Apply each section the report carries, as a diff, only where it changed since the last
   report (per-section hashes) and only to fields the agent owns (cmdb.FieldOwner).
3. Record history with the report as source; keep events; raise and close discrepancies.
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
from cmdb.choices import ChangeSource, CIStatus
from cmdb.history import ChangeContext, collected_history
from cmdb.inventory_services import ci_set_network_interfaces, ci_set_storage_volumes
from cmdb.models import CIType, ConfigurationItem, FieldOwner
from cmdb.selectors import field_owners  # a CMDB read; `agents.reconcile.field_owners` still works

from .choices import COLLECTED_ITEM_TYPES, DiscrepancyKind, DiscrepancyStatus, EventSeverity
from .discrepancies import (
    discrepancy_close_open,
    discrepancy_open_or_refresh,
    discrepancy_open_or_refresh_many,
)
from .inventory.identity import identity_keys, normalize_hostname
from .matching import (  # noqa: F401  (re-exported: importable from here as before)
    DEFAULT_MATCH_RULES,
    Hold,
    IdentityMismatch,
    ReportHeld,
    _lock_identities,
    _other_ci_with_identity,
    _rule_query,
    decide,
    find_ci,
)
from .models import Agent, CIEvent, InventoryReport, InventoryState

VIRTUAL_HINTS = (
    "vmware",
    "virtualbox",
    "qemu",
    "kvm",
    "xen",
    "hyper-v",
    "virtual machine",
    "bochs",
    "openstack",
)
LAPTOP_HINTS = (
    "laptop",
    "notebook",
    "xps",
    "thinkpad",
    "latitude",
    "macbook",
    "elitebook",
    "probook",
    "zenbook",
)
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


def choose_ci_type(report: dict, agent: Agent) -> CIType:
    """The class of a CI created from a report: by item type, then the group's default, then hints."""
    device = report["device"]
    item_type = report.get("item_type", "computer")
    slug = {"printer": "printer", "network_equipment": "network-device", "phone": "phone"}.get(
        item_type
    )
    if slug is None:
        if agent.group_id and agent.group.default_ci_type_id:
            return agent.group.default_ci_type
        hint = f"{device.get('manufacturer', '')} {device.get('model', '')}".lower()
        os_name = (device.get("os") or {}).get("name", "").lower()
        if any(word in hint for word in VIRTUAL_HINTS):
            slug = "virtual-machine"
        elif any(word in hint for word in LAPTOP_HINTS):
            slug = "laptop"
        elif (
            ("windows" in os_name and "server" not in os_name)
            or "mac os" in os_name
            or "macos" in os_name
        ):
            slug = "desktop"
        else:
            slug = "server"
    # Built-in types by their stable key (a CMDB Manager may rename the slug); the slug is
    # the key's original value, for databases whose types were seeded without one.
    return CIType.objects.filter(builtin_key=slug).first() or CIType.objects.get(slug=slug)


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
    return bool(change["added"] or change["removed"])


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


# --- the whole report ---------------------------------------------------------------------


def reconcile(
    *,
    report: InventoryReport,
    normalized: dict,
    agent: Agent,
    digest: str = "",
    approved_ci: ConfigurationItem | None = None,
) -> Outcome:
    """Apply one normalised report to the CMDB. Call inside a transaction; safe to repeat.

    Raises ReportHeld (nothing written) when the key may not update the CI the report
    describes (see `decide`); `approved_ci` is the CI a CMDB Manager approved for a held
    report, applied without that check. The history entries of the report (fields, storage,
    software…) are written together."""
    with collected_history():
        return _reconcile(
            report=report,
            normalized=normalized,
            agent=agent,
            digest=digest,
            approved_ci=approved_ci,
        )


def _reconcile(
    *,
    report: InventoryReport,
    normalized: dict,
    agent: Agent,
    digest: str,
    approved_ci: ConfigurationItem | None,
) -> Outcome:
    context = ChangeContext(actor=None, source=ChangeSource.AGENT, source_ref=f"report:{report.pk}")
    out = Outcome(
        raise_incidents=bool(agent.group_id and agent.group.raise_incidents), report=report
    )
    keys = identity_keys(normalized)
    sections = set(normalized.get("sections") or [])

    if approved_ci is not None:
        ci, out.matched_by = approved_ci, "approved binding"
    else:
        ci, out.matched_by = decide(agent, keys, normalized)

    is_new = ci is None
    if is_new:
        ci = _create_ci(normalized, agent, context)
        out.created = True
        out.matched_by = "created"
    out.ci_id = ci.pk

    # A new CI has no state yet: no look-up, one INSERT at the end.
    state = InventoryState(ci=ci) if is_new else InventoryState.objects.get_or_create(ci=ci)[0]
    hashes = dict(state.section_hashes)
    if state.ci_version is not None and state.ci_version != ci.version:
        # Someone changed the CI since the last report: re-apply what the agent owns.
        for name in ("device", "os", "hardware", "security"):
            hashes.pop(name, None)
    owners = field_owners(ci.ci_type)

    field_sections = sections & {"device", "os", "hardware", "security"}
    field_payload = {
        "device": {
            k: v
            for k, v in normalized["device"].items()
            if k not in ("os", "cpu", "memory_mb", "macs")
        },
        "os": normalized["device"].get("os"),
        "hardware": [normalized["device"].get("cpu"), normalized["device"].get("memory_mb")],
        "security": normalized.get("security"),
    }
    changed_fields = {s for s in field_sections if hashes.get(s) != section_hash(field_payload[s])}
    if changed_fields or is_new:
        if not is_new:
            _hardware_changes(ci, normalized, changed_fields, context, out)
        _apply_fields(ci, normalized, changed_fields or field_sections, owners, context, out)
        for s in field_sections:
            hashes[s] = section_hash(field_payload[s])
    out.changed_sections.extend(sorted(changed_fields))

    for name, apply in (
        (
            "network",
            lambda: (
                agent_owns(owners, "network") and _apply_network(ci, normalized["network"], context)
            ),
        ),
        (
            "storage",
            lambda: (
                agent_owns(owners, "storage")
                and _apply_storage(ci, normalized["storage"], context, out, is_new)
            ),
        ),
        (
            "software",
            lambda: (
                agent_owns(owners, "software")
                and _apply_software(ci, normalized["software"], context, out, "software" in hashes)
            ),
        ),
    ):
        if name not in sections:
            continue
        section_digest = section_hash(normalized[name])
        if hashes.get(name) == section_digest:
            out.unchanged_sections.append(name)
            continue
        if apply():
            out.changed_sections.append(name)
        hashes[name] = section_digest
    if "events" in sections and normalized["events"]:
        section_digest = section_hash(normalized["events"])
        if hashes.get("events") != section_digest:
            out.events = _apply_events(ci, normalized["events"], report)
            hashes["events"] = section_digest

    if ci.status == CIStatus.DISPOSED:
        out.discrepancies.append(
            _raise(
                ci,
                DiscrepancyKind.DISPOSED_REPORTING,
                "",
                "This CI is marked disposed but still reports.",
                {"report": report.pk},
                out,
            )
        )
    if not is_new:
        discrepancy_close_open(
            ci=ci,
            kind=DiscrepancyKind.STALE,
            status=DiscrepancyStatus.RESOLVED,
            resolution=f"Reported again (report {report.pk}).",
        )

    state.section_hashes = hashes
    state.content_digest = digest
    state.ci_version = ConfigurationItem.objects.values_list("version", flat=True).get(pk=ci.pk)
    state.last_report = report
    state.last_report_at = report.received_at
    if normalized.get("device_id"):
        state.device_id = normalized["device_id"][:255]
    if "security" in sections:
        state.security = normalized.get("security") or {}
    state.save()
    if is_new and normalized.get("item_type") not in COLLECTED_ITEM_TYPES:
        # A key's first report of a machine the CMDB did not know: the key is bound to it.
        Agent.objects.filter(pk=agent.pk).update(ci=ci)
        agent.ci = ci
    return out


def _create_ci(report: dict, agent: Agent, context: ChangeContext) -> ConfigurationItem:
    device = report["device"]
    ci_type = choose_ci_type(report, agent)
    attributes = {
        k: v
        for k, v in _attribute_updates(report, set(report.get("sections") or [])).items()
        if v not in (None, "", {})
    }
    name = (
        device.get("hostname")
        or device.get("serial_number")
        or report.get("device_id")
        or f"device-{report['device_id']}"
    )
    fields = {
        "ci_type": ci_type,
        "name": name[:200],
        "status": CIStatus.RECEIVED,
        "hostname": usable_hostname(device.get("hostname")),
        "serial_number": device.get("serial_number") or "",
        "uuid": usable_uuid(device.get("uuid")),
    }
    try:
        return cmdb_services.ci_create(context=context, attributes=attributes, **fields)
    except ValidationError as exc:
        if not attributes or "attributes" not in getattr(exc, "message_dict", {}):
            raise
    # Attributes the type's schema refuses are left out; the CI itself is still created.
    return cmdb_services.ci_create(context=context, attributes={}, **fields)
