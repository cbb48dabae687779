"""Our own agent's report (``"format": "itsm-inventory/1"``, the "Agents" section of the API contract) →
normalised report.

The native body is already close to the normalised shape: this module checks the structure,
cleans and bounds every value, normalises identifiers and works out which sections are present
(a top-level key present, even empty, is a present section; ``device.os`` gives ``os``,
``device.cpu`` / ``device.memory_mb`` give ``hardware``). Optional extras: ``"item_type"``
(default ``computer``), ``"partial"`` (default false), ``device.macs`` (default: the MACs of
``network``). Feeding a normalised report back in gives the same report.
"""

from __future__ import annotations

import json
from typing import Any

from agents.inventory.identity import (
    is_placeholder_mac,
    is_placeholder_text,
    normalize_mac,
    normalize_serial,
    normalize_uuid,
)
from agents.inventory.normalized import (
    DETAIL_MAX,
    ITEM_TYPES,
    MAX_EVENTS,
    MAX_NETWORK,
    MAX_SOFTWARE,
    MAX_STORAGE,
    NAME_MAX,
    SHORT_MAX,
    VERSION_MAX,
    InventoryFormatError,
    antivirus_entry,
    as_dict,
    as_list,
    as_str_list,
    finish,
    macs_of,
    network_entry,
    new_report,
    software_entry,
    storage_entry,
    text,
    to_bool,
    to_int,
    to_iso,
    unique_software,
    unique_storage,
)

FORMAT = "itsm-inventory/1"

_SECURITY_MAX_KEYS = 50
_SECURITY_MAX_ITEMS = 100
_SECURITY_MAX_DEPTH = 3
_SECURITY_TEXT_MAX = 1000


def normalize_native(body: dict) -> dict:
    """Map an ``itsm-inventory/1`` report body."""
    item_type = body.get("item_type", "computer")
    if item_type not in ITEM_TYPES:
        raise InventoryFormatError(f"item_type: expected one of {', '.join(ITEM_TYPES)}")
    partial = to_bool(body.get("partial", False))
    if partial is None:
        raise InventoryFormatError("partial: expected a boolean")
    report = new_report(FORMAT, item_type=item_type, partial=partial)
    sections = report["sections"]

    collected_at = body.get("collected_at")
    if collected_at not in (None, ""):
        report["collected_at"] = to_iso(collected_at)
        if report["collected_at"] is None:
            raise InventoryFormatError("collected_at: expected an ISO 8601 date-time")

    if "network" in body:
        sections.add("network")
        report["network"] = _network(body["network"])
    if "device" in body:
        device = as_dict(body["device"], "device")
        sections.add("device")
        if "os" in device:
            sections.add("os")
        if "cpu" in device or "memory_mb" in device:
            sections.add("hardware")
        report["device"] = _device(device, report["network"])
    if "storage" in body:
        sections.add("storage")
        report["storage"] = _storage(body["storage"])
    if "software" in body:
        sections.add("software")
        software = as_list(body["software"], "software", limit=MAX_SOFTWARE)
        report["software"] = unique_software(
            software_entry(s.get("name"), s.get("version"), s.get("vendor", s.get("publisher")))
            for s in software
        )
    if "security" in body:
        sections.add("security")
        report["security"] = _security(as_dict(body["security"], "security"))
    if "events" in body:
        sections.add("events")
        report["events"] = _events(body["events"])
    return finish(report)


def _device(device: dict, network: list[dict]) -> dict:
    os_info = as_dict(device.get("os"), "device.os")
    cpu = as_dict(device.get("cpu"), "device.cpu")
    if "macs" in device:
        macs: list[str] = []
        for mac in as_str_list(device["macs"], "device.macs"):
            if not is_placeholder_mac(mac) and normalize_mac(mac) not in macs:
                macs.append(normalize_mac(mac))
    else:
        macs = macs_of(network)
    manufacturer = text(device.get("manufacturer"), NAME_MAX, field="device.manufacturer")
    model = text(device.get("model"), NAME_MAX, field="device.model")
    return {
        "hostname": text(device.get("hostname"), NAME_MAX, field="device.hostname").rstrip("."),
        "uuid": normalize_uuid(text(device.get("uuid"), NAME_MAX, field="device.uuid")),
        "serial_number": normalize_serial(
            text(device.get("serial_number"), NAME_MAX, field="device.serial_number")
        ),
        "manufacturer": "" if is_placeholder_text(manufacturer) else manufacturer,
        "model": "" if is_placeholder_text(model) else model,
        "os": {
            "name": text(os_info.get("name"), NAME_MAX, field="device.os.name"),
            "version": text(os_info.get("version"), VERSION_MAX, field="device.os.version"),
            "kernel": text(os_info.get("kernel"), NAME_MAX, field="device.os.kernel"),
            "arch": text(os_info.get("arch"), SHORT_MAX, field="device.os.arch"),
        },
        "cpu": {
            "model": text(cpu.get("model", cpu.get("name")), NAME_MAX, field="device.cpu.model"),
            "cores": to_int(cpu.get("cores")),
            "threads": to_int(cpu.get("threads")),
            "count": to_int(cpu.get("count")),
        },
        "memory_mb": to_int(device.get("memory_mb")),
        "macs": macs,
    }


def _network(value: Any) -> list[dict]:
    interfaces = as_list(value, "network", limit=MAX_NETWORK)
    result = []
    for index, interface in enumerate(interfaces):
        addresses = [
            *as_str_list(interface.get("ipv4"), f"network[{index}].ipv4"),
            *as_str_list(interface.get("ipv6"), f"network[{index}].ipv6"),
        ]
        result.append(network_entry(interface.get("name"), interface.get("mac"), addresses))
    return result


def _storage(value: Any) -> list[dict]:
    volumes = as_list(value, "storage", limit=MAX_STORAGE)
    entries = []
    for volume in volumes:
        size = to_int(volume.get("size_mb"))
        used = volume.get("used_mb")
        if used is None and size is not None and to_int(volume.get("free_mb")) is not None:
            used = max(size - to_int(volume.get("free_mb")), 0)
        entries.append(
            storage_entry(
                volume.get("mount"), volume.get("device"), volume.get("filesystem"), size, used
            )
        )
    return unique_storage(entries)


def _security(security: dict) -> dict:
    result = _clean_free_form(security, depth=0)
    if "firewall_enabled" in security:
        result["firewall_enabled"] = to_bool(security["firewall_enabled"])
    if "antivirus" in security:
        entries = []
        for antivirus in as_list(security["antivirus"], "security.antivirus"):
            entry = antivirus_entry(
                antivirus.get("name"), antivirus.get("enabled"), antivirus.get("uptodate")
            )
            if entry and entry not in entries:
                entries.append(entry)
        result["antivirus"] = entries
    return result


def _clean_free_form(value: Any, *, depth: int) -> Any:
    """JSON-like data bounded in depth, size and string length; other values dropped."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) <= 2**53 else None
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, str):
        return text(value, _SECURITY_TEXT_MAX)
    if depth >= _SECURITY_MAX_DEPTH:
        return None
    if isinstance(value, list):
        return [_clean_free_form(item, depth=depth + 1) for item in value[:_SECURITY_MAX_ITEMS]]
    if isinstance(value, dict):
        result = {}
        for key, item in list(value.items())[:_SECURITY_MAX_KEYS]:
            result[text(str(key), SHORT_MAX)] = _clean_free_form(item, depth=depth + 1)
        return result
    return None


def _events(value: Any) -> list[dict]:
    events = as_list(value, "events", limit=MAX_EVENTS)
    result = []
    for index, event in enumerate(events):
        kind = text(event.get("kind"), SHORT_MAX, field=f"events[{index}].kind")
        if not kind:
            raise InventoryFormatError(f"events[{index}].kind: required")
        at = event.get("at")
        at_iso = to_iso(at)
        if at not in (None, "") and at_iso is None:
            raise InventoryFormatError(f"events[{index}].at: expected an ISO 8601 date-time")
        detail = event.get("detail")
        if isinstance(detail, (dict, list)):
            detail = json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str)
        result.append(
            {"at": at_iso, "kind": kind, "detail": text(detail, DETAIL_MAX, field="events.detail")}
        )
    return result
