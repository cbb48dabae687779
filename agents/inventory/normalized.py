"""The normalised inventory: one plain dict, whatever the agent and format.

Every mapper (`native`, `glpi`, `fusion_xml`) returns exactly this shape, so reconciliation into
the CMDB is written once::

    {
      "format": "itsm-inventory/1" | "glpi-inventory" | "fusion-xml",
      "item_type": "computer" | "printer" | "network_equipment" | "phone",
      "partial": bool,           # GLPI "partial": true: update only the sections listed below
      "sections": [...],         # sorted subset of SECTIONS this report actually carries
      "collected_at": str | None,  # ISO 8601 (offset kept when the source gave one)
      "device_id": str,          # GLPI deviceid / XML <DEVICEID>; "" for native reports
      "device": {
        "hostname": str,         # as reported (case kept, trailing dot dropped)
        "uuid": str,             # identity.normalize_uuid: lower case, "" if placeholder
        "serial_number": str,    # "" if placeholder ("Not Specified", "0", ...)
        "manufacturer": str, "model": str,
        "os": {"name": str, "version": str, "kernel": str, "arch": str},
        "cpu": {"model": str, "cores": int | None, "threads": int | None, "count": int | None},
        "memory_mb": int | None,
        "macs": [str],           # lower-case colon MACs of physical interfaces, no placeholders
      },
      "network": [{"name": str, "mac": str, "ipv4": [str], "ipv6": [str]}],
      "storage": [{"mount": str, "device": str, "filesystem": str,
                   "size_mb": int | None, "used_mb": int | None}],
      "software": [{"name": str, "version": str, "vendor": str}],  # unique (name, version, vendor)
      "security": {"firewall_enabled": bool | None,
                   "antivirus": [{"name": str, "enabled": bool | None, "uptodate": bool | None}],
                   ...},         # free-form small dict (native agents may add e.g. "ssh")
      "events": [{"at": str | None, "kind": str, "detail": str}],
    }

Sections (what a consumer may update from this report; anything else must be left alone):

* ``device``: hostname, uuid, serial_number, manufacturer, model (BIOS/hardware, SNMP device info);
* ``os``: ``device.os`` (for printers and network equipment: ``version`` is the firmware);
* ``hardware``: ``device.cpu`` and ``device.memory_mb``;
* ``network``: ``network`` and ``device.macs`` (for SNMP devices ``device.macs`` comes with
  ``device``);
* ``storage``, ``software``, ``security``, ``events``: the list/dict of the same name.

A section is present when the report carries it, even empty: a GLPI ``"softwares": []`` means
"no software installed", while a report without ``softwares`` says nothing about software, so
existing software must be kept. Inside a present section, "" and None mean "not reported".

Strings are stripped, control characters removed and lengths bounded (names 255, versions 100).
Values are data, never markup: ``&`` and ``<`` come through unchanged, non-ASCII is kept.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from agents.inventory.identity import is_placeholder_mac, normalize_mac

FORMATS = ("itsm-inventory/1", "glpi-inventory", "fusion-xml")
ITEM_TYPES = ("computer", "printer", "network_equipment", "phone")
SECTIONS = ("device", "os", "hardware", "network", "storage", "software", "security", "events")

NAME_MAX = 255
VERSION_MAX = 100
SHORT_MAX = 50
DETAIL_MAX = 2000

MAX_SOFTWARE = 50_000
MAX_NETWORK = 10_000
MAX_STORAGE = 2_000
MAX_EVENTS = 10_000
MAX_IPS_PER_INTERFACE = 256

_MAX_INT = 2**53
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TRUE = frozenset({"1", "true", "yes", "on", "enabled", "y"})
_FALSE = frozenset({"0", "false", "no", "off", "disabled", "n"})


class InventoryFormatError(ValueError):
    """The report cannot be mapped: wrong structure, bad types, unsafe or unparseable XML."""


# --- scalar cleaning -------------------------------------------------------------------------


def text(value: Any, limit: int = NAME_MAX, *, field: str = "value") -> str:
    """A clean string: stripped, control characters removed, at most `limit` characters.

    None gives "". Numbers are converted. A dict or list where a string belongs is malformed.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        value = "true" if value else "false"
    elif isinstance(value, (int, float)):
        value = str(value)
    elif not isinstance(value, str):
        raise InventoryFormatError(f"{field}: expected a string, got {type(value).__name__}")
    cleaned = _CONTROL_CHARS.sub("", value).strip()
    return cleaned[:limit].rstrip()


def to_int(value: Any) -> int | None:
    """A non-negative integer from an int, float or numeric string; None when not one."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return None
        try:
            value = float(value)
        except ValueError:
            return None
    if not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and value != value:  # NaN
        return None
    if value < 0 or value > _MAX_INT:
        return None
    return int(value)


def to_bool(value: Any) -> bool | None:
    """True/False from booleans, 0/1 and the usual words ("on", "yes", "enabled"…); else None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    return None


def to_iso(value: Any) -> str | None:
    """ISO 8601 text of a date-time (``2017-02-20 13:23:05``, ``2026-11-22T09:00:00Z``); None
    when empty or unparseable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return datetime.fromisoformat(value.strip()).isoformat()
    except ValueError:
        return None


def split_ips(values: Iterable[Any]) -> tuple[list[str], list[str]]:
    """Valid, unique IPv4 and IPv6 addresses; prefixes (``/64``) dropped, unspecified and
    loopback addresses skipped."""
    ipv4: list[str] = []
    ipv6: list[str] = []
    for value in values:
        if not isinstance(value, str):
            continue
        candidate = value.strip().split("/", 1)[0]
        if not candidate:
            continue
        try:
            address = ipaddress.ip_address(candidate)
        except ValueError:
            continue
        if address.is_unspecified or address.is_loopback:
            continue
        bucket = ipv4 if address.version == 4 else ipv6
        compressed = address.compressed
        if compressed not in bucket and len(bucket) < MAX_IPS_PER_INTERFACE:
            bucket.append(compressed)
    return ipv4, ipv6


# --- structure checks ------------------------------------------------------------------------


def as_dict(value: Any, field: str) -> dict:
    """`value` as a dict (None → {}); anything else is malformed."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InventoryFormatError(f"{field}: expected an object, got {type(value).__name__}")
    return value


def as_list(value: Any, field: str, *, limit: int | None = None) -> list[dict]:
    """`value` as a list of dicts (None → []); anything else is malformed."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise InventoryFormatError(f"{field}: expected a list, got {type(value).__name__}")
    if limit is not None and len(value) > limit:
        raise InventoryFormatError(f"{field}: {len(value)} entries, more than the limit {limit}")
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise InventoryFormatError(f"{field}[{index}]: expected an object")
    return value


def as_str_list(value: Any, field: str) -> list[str]:
    """A list of strings from a list or a single string (None → [])."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise InventoryFormatError(f"{field}: expected a list of strings")
    return [item for item in value if isinstance(item, str)]


# --- building blocks -------------------------------------------------------------------------


def empty_device() -> dict:
    return {
        "hostname": "",
        "uuid": "",
        "serial_number": "",
        "manufacturer": "",
        "model": "",
        "os": {"name": "", "version": "", "kernel": "", "arch": ""},
        "cpu": {"model": "", "cores": None, "threads": None, "count": None},
        "memory_mb": None,
        "macs": [],
    }


def new_report(
    fmt: str, *, item_type: str = "computer", partial: bool = False, device_id: str = ""
) -> dict:
    """An empty normalised report; mappers fill it in and call `finish`."""
    return {
        "format": fmt,
        "item_type": item_type,
        "partial": partial,
        "sections": set(),
        "collected_at": None,
        "device_id": device_id,
        "device": empty_device(),
        "network": [],
        "storage": [],
        "software": [],
        "security": {},
        "events": [],
    }


def software_entry(name: Any, version: Any, vendor: Any) -> dict | None:
    """One software entry, or None when it has no name."""
    clean_name = text(name, NAME_MAX, field="software.name")
    if not clean_name:
        return None
    return {
        "name": clean_name,
        "version": text(version, VERSION_MAX, field="software.version"),
        "vendor": text(vendor, NAME_MAX, field="software.vendor"),
    }


def unique_software(entries: Iterable[dict | None]) -> list[dict]:
    """Entries without repeats of (name, version, vendor), first occurrence order kept."""
    seen: set[tuple[str, str, str]] = set()
    result = []
    for entry in entries:
        if entry is None:
            continue
        key = (entry["name"], entry["version"], entry["vendor"])
        if key not in seen:
            seen.add(key)
            result.append(entry)
    return result


def network_entry(name: Any, mac: Any, addresses: Iterable[Any]) -> dict:
    """One interface: placeholder MACs become "", addresses split by family."""
    clean_mac = "" if is_placeholder_mac(mac) else normalize_mac(mac)
    ipv4, ipv6 = split_ips(addresses)
    return {
        "name": text(name, NAME_MAX, field="network.name"),
        "mac": clean_mac,
        "ipv4": ipv4,
        "ipv6": ipv6,
    }


def merge_interfaces(entries: Iterable[dict]) -> list[dict]:
    """Join entries of the same (name, mac): GLPI and FusionInventory send one entry per
    address. Entries with neither a MAC nor an address are dropped."""
    merged: dict[tuple[str, str], dict] = {}
    for entry in entries:
        key = (entry["name"], entry["mac"])
        if key not in merged:
            merged[key] = {"name": entry["name"], "mac": entry["mac"], "ipv4": [], "ipv6": []}
        target = merged[key]
        for family in ("ipv4", "ipv6"):
            for address in entry[family]:
                if address not in target[family]:
                    target[family].append(address)
    result = [e for e in merged.values() if e["mac"] or e["ipv4"] or e["ipv6"]]
    if len(result) > MAX_NETWORK:
        raise InventoryFormatError(f"network: more than {MAX_NETWORK} interfaces")
    return result


# Interface names of bridges, container and VM links, tunnels: their MACs are not the machine's.
_VIRTUAL_INTERFACE = re.compile(
    r"^(veth|docker|br-|virbr|vnet|cni|flannel|cali|tun|tap|wg|vboxnet|vmnet|lxcbr|lxdbr|kube-"
    r"|tailscale|zt|podman|cilium|vxlan|genev|dummy|ifb|bond\d+\.)",
    re.IGNORECASE,
)


def is_virtual_interface_name(name: str) -> bool:
    """True for names of virtual interfaces (``docker0``, ``veth1a2b``, ``virbr0``, ``tun0``…)."""
    return bool(_VIRTUAL_INTERFACE.match(name or ""))


def macs_of(interfaces: Iterable[dict]) -> list[str]:
    """Unique non-empty MACs of `interfaces` in order, virtual interfaces (by name) left out."""
    macs: list[str] = []
    for interface in interfaces:
        mac = interface.get("mac") or ""
        if mac and mac not in macs and not is_virtual_interface_name(interface.get("name", "")):
            macs.append(mac)
    return macs


def storage_entry(
    mount: Any, device: Any, filesystem: Any, size_mb: Any, used_mb: Any
) -> dict[str, Any]:
    size = to_int(size_mb)
    used = to_int(used_mb)
    if size is not None and used is not None and used > size:
        used = size
    return {
        "mount": text(mount, NAME_MAX, field="storage.mount"),
        "device": text(device, NAME_MAX, field="storage.device"),
        "filesystem": text(filesystem, SHORT_MAX, field="storage.filesystem"),
        "size_mb": size,
        "used_mb": used,
    }


def unique_storage(entries: Iterable[dict]) -> list[dict]:
    seen: set[tuple] = set()
    result = []
    for entry in entries:
        key = tuple(entry.values())
        if key not in seen:
            seen.add(key)
            result.append(entry)
    if len(result) > MAX_STORAGE:
        raise InventoryFormatError(f"storage: more than {MAX_STORAGE} volumes")
    return result


def antivirus_entry(name: Any, enabled: Any, uptodate: Any) -> dict | None:
    clean_name = text(name, NAME_MAX, field="antivirus.name")
    if not clean_name:
        return None
    return {"name": clean_name, "enabled": to_bool(enabled), "uptodate": to_bool(uptodate)}


def finish(report: dict) -> dict:
    """Check limits, sort the sections and hand the report back."""
    unknown = set(report["sections"]) - set(SECTIONS)
    if unknown:  # a mapper bug, not bad input
        raise AssertionError(f"unknown sections {sorted(unknown)}")
    if report["item_type"] not in ITEM_TYPES:
        raise InventoryFormatError(f"unsupported item type {report['item_type']!r}")
    if len(report["software"]) > MAX_SOFTWARE:
        raise InventoryFormatError(f"software: more than {MAX_SOFTWARE} entries")
    if len(report["events"]) > MAX_EVENTS:
        raise InventoryFormatError(f"events: more than {MAX_EVENTS} entries")
    report["sections"] = sorted(report["sections"])
    return report
