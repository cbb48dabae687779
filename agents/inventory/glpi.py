"""GLPI agent inventory (JSON, glpi-project/inventory_format) → normalised report.

`map_content` also serves the FusionInventory/OCS XML mapper, which first turns its XML into
the same lower-case ``content`` structure (values are then strings, hence the tolerant
`to_int` / `to_bool` everywhere).

Field mapping (GLPI → normalised):

* device: ``hardware.name`` → hostname (``operatingsystem.fqdn`` if no name), ``hardware.uuid``
  → uuid, ``bios.ssn`` → serial (``bios.msn`` when ssn is a placeholder),
  ``bios.smanufacturer``/``mmanufacturer`` → manufacturer, ``bios.smodel``/``mmodel`` → model;
* os: ``operatingsystem.full_name`` (or ``name``), ``version``, ``kernel_version``, ``arch``;
* hardware: ``cpus`` (first model; cores and threads summed over the entries; count = entries),
  ``hardware.memory`` (else the sum of ``memories.capacity``) in MB;
* network: ``networks`` grouped per (description, mac), loopback and ``virtualdev`` interfaces
  skipped (unless the agent flagged every interface virtual: then the flag is ignored);
* storage: ``drives`` (mount = ``letter`` or ``type`` when it is a path, device = ``volumn``,
  used = total - free), pseudo and remote filesystems skipped;
* software: ``softwares`` (name, version, publisher); security: ``firewalls``, ``antivirus``;
* SNMP items (``action: netinventory``; printers, network equipment): ``network_device`` (name,
  serial, mac, model, manufacturer, firmware, ips, memory/ram) and ``network_ports``.
"""

from __future__ import annotations

from typing import Any

from agents.inventory.identity import (
    is_placeholder_mac,
    is_placeholder_text,
    normalize_mac,
    normalize_serial,
    normalize_uuid,
)
from agents.inventory.normalized import (
    MAX_SOFTWARE,
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
    merge_interfaces,
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

FORMAT = "glpi-inventory"

_ITEM_TYPES = {
    "computer": "computer",
    "printer": "printer",
    "networkequipment": "network_equipment",
    "phone": "phone",
}
# network_device.type (SNMP) → item type
_DEVICE_TYPES = {
    "printer": "printer",
    "networking": "network_equipment",
    "phone": "phone",
    "computer": "computer",
}
_NET_ACTIONS = frozenset({"netinventory", "snmpquery"})

# Not local disks: kernel pseudo filesystems, read-only images, host shares, network mounts.
IGNORED_FILESYSTEMS = frozenset(
    {
        "autofs",
        "binfmt_misc",
        "bpf",
        "cgroup",
        "cgroup2",
        "configfs",
        "debugfs",
        "devfs",
        "devpts",
        "devtmpfs",
        "efivarfs",
        "fusectl",
        "hugetlbfs",
        "mqueue",
        "nsfs",
        "overlay",
        "proc",
        "pstore",
        "ramfs",
        "rpc_pipefs",
        "securityfs",
        "squashfs",
        "sysfs",
        "tmpfs",
        "tracefs",
        "nfs",
        "nfs4",
        "cifs",
        "smbfs",
        "smb3",
        "vboxsf",
        "vmhgfs",
        "fuse.vmhgfs-fuse",
        "fuse.sshfs",
        "9p",
    }
)
_IGNORED_DRIVE_TYPES = frozenset({"network drive", "compact disc", "cd-rom"})
_LOOPBACK_NAMES = frozenset({"lo", "lo0", "loopback"})


def normalize_glpi(body: dict) -> dict:
    """Map a ``"format": "glpi-inventory"`` report body.

    Accepts the GLPI document in ``body["inventory"]`` (``{"deviceid", "content", "partial",
    "itemtype", "action", ...}``), or its ``content`` in ``body["content"]`` with the GLPI
    top-level keys beside it in `body`.
    """
    if "inventory" in body:
        document = body["inventory"]
        if not isinstance(document, dict):
            raise InventoryFormatError("inventory: expected the GLPI inventory object")
    else:
        document = body
    if "content" not in document:
        raise InventoryFormatError("glpi-inventory: the GLPI 'content' object is missing")
    content = document["content"]
    if not isinstance(content, dict):
        raise InventoryFormatError("content: expected an object")
    partial = document.get("partial", False)
    if partial is None:
        partial = False
    if to_bool(partial) is None:
        raise InventoryFormatError("partial: expected a boolean")
    return map_content(
        content,
        fmt=FORMAT,
        device_id=text(document.get("deviceid"), NAME_MAX, field="deviceid"),
        itemtype=document.get("itemtype"),
        action=document.get("action"),
        partial=bool(to_bool(partial)),
    )


def map_content(
    content: dict,
    *,
    fmt: str,
    device_id: str = "",
    itemtype: Any = None,
    action: Any = None,
    partial: bool = False,
) -> dict:
    """Map a GLPI ``content`` object (or the XML mapper's equivalent) to the normalised shape.

    A key set to null counts as absent: it says nothing about that section.
    """
    content = {key: value for key, value in content.items() if value is not None}
    action_name = text(action, SHORT_MAX, field="action").lower()
    network_device = as_dict(content.get("network_device"), "network_device")
    item_type = _item_type(itemtype, action_name, network_device)
    report = new_report(fmt, item_type=item_type, partial=partial, device_id=device_id)
    is_snmp = "network_device" in content or (
        action_name in _NET_ACTIONS and item_type in ("printer", "network_equipment")
    )
    if is_snmp:
        _map_snmp_device(content, network_device, report)
    else:
        _map_computer(content, report)
    _map_software(content, report)
    _map_security(content, report)
    accesslog = as_dict(content.get("accesslog"), "accesslog")
    report["collected_at"] = to_iso(accesslog.get("logdate"))
    return finish(report)


def _item_type(itemtype: Any, action: str, network_device: dict) -> str:
    declared = text(itemtype, SHORT_MAX, field="itemtype").lower()
    if declared in _ITEM_TYPES:
        return _ITEM_TYPES[declared]
    if declared and declared != "unmanaged":
        raise InventoryFormatError(f"itemtype {itemtype!r} is not supported")
    device_type = text(network_device.get("type"), SHORT_MAX, field="network_device.type")
    if device_type.lower() in _DEVICE_TYPES:
        return _DEVICE_TYPES[device_type.lower()]
    if action in _NET_ACTIONS:
        return "network_equipment"
    return "computer"


# --- computers -------------------------------------------------------------------------------


def _first_real(*values: Any, limit: int = NAME_MAX, field: str = "value") -> str:
    for value in values:
        cleaned = text(value, limit, field=field)
        if not is_placeholder_text(cleaned):
            return cleaned
    return ""


def _serial(value: Any, field: str) -> str:
    return normalize_serial(text(value, NAME_MAX, field=field))


def _map_computer(content: dict, report: dict) -> None:
    sections = report["sections"]
    device = report["device"]
    bios = as_dict(content.get("bios"), "bios")
    hardware = as_dict(content.get("hardware"), "hardware")
    osdata = as_dict(content.get("operatingsystem"), "operatingsystem")

    if "bios" in content or "hardware" in content:
        sections.add("device")
    device["hostname"] = text(hardware.get("name"), NAME_MAX, field="hardware.name").rstrip(
        "."
    ) or text(osdata.get("fqdn"), NAME_MAX, field="operatingsystem.fqdn").rstrip(".")
    device["uuid"] = normalize_uuid(text(hardware.get("uuid"), NAME_MAX, field="hardware.uuid"))
    device["serial_number"] = _serial(bios.get("ssn"), "bios.ssn") or _serial(
        bios.get("msn"), "bios.msn"
    )
    device["manufacturer"] = _first_real(
        bios.get("smanufacturer"), bios.get("mmanufacturer"), field="bios.manufacturer"
    )
    device["model"] = _first_real(bios.get("smodel"), bios.get("mmodel"), field="bios.model")

    os_info = device["os"]
    if "operatingsystem" in content:
        sections.add("os")
        os_info["name"] = text(
            osdata.get("full_name") or osdata.get("name"), NAME_MAX, field="operatingsystem.name"
        )
        os_info["version"] = text(
            osdata.get("version"), VERSION_MAX, field="operatingsystem.version"
        )
        os_info["kernel"] = text(
            osdata.get("kernel_version"), NAME_MAX, field="operatingsystem.kernel_version"
        )
        os_info["arch"] = text(osdata.get("arch"), SHORT_MAX, field="operatingsystem.arch")
    elif hardware.get("osname"):  # old FusionInventory/OCS agents: only HARDWARE/OSNAME
        sections.add("os")
        os_info["name"] = text(hardware.get("osname"), NAME_MAX, field="hardware.osname")
        os_info["kernel"] = text(hardware.get("osversion"), NAME_MAX, field="hardware.osversion")
    os_names = f"{os_info['name']} {osdata.get('name') or ''}".lower()
    if report["item_type"] == "computer" and "android" in os_names:
        report["item_type"] = "phone"  # GLPI's Android agent declares itself a Computer

    memories = as_list(content.get("memories"), "memories")
    if "cpus" in content or "memories" in content or hardware.get("memory") not in (None, ""):
        sections.add("hardware")
    device["cpu"] = _cpu(as_list(content.get("cpus"), "cpus"))
    memory = to_int(hardware.get("memory"))
    if memory is None and memories:
        capacities = [to_int(m.get("capacity")) for m in memories]
        memory = sum(c for c in capacities if c) or None
    device["memory_mb"] = memory

    if "networks" in content:
        sections.add("network")
        report["network"] = _computer_interfaces(as_list(content.get("networks"), "networks"))
        device["macs"] = macs_of(report["network"])

    if "drives" in content:
        sections.add("storage")
        report["storage"] = _drives(as_list(content.get("drives"), "drives"))


def _cpu(cpus: list[dict]) -> dict:
    if not cpus:
        return {"model": "", "cores": None, "threads": None, "count": None}
    model = ""
    cores = threads = 0
    for cpu in cpus:
        model = model or text(cpu.get("name") or cpu.get("model"), NAME_MAX, field="cpus.name")
        core = to_int(cpu.get("corecount")) or to_int(cpu.get("core")) or 1
        thread = to_int(cpu.get("thread")) or core
        if thread < core:  # some agents report threads per core rather than per package
            thread *= core
        cores += core
        threads += thread
    return {"model": model, "cores": cores, "threads": threads, "count": len(cpus)}


def _computer_interfaces(interfaces: list[dict]) -> list[dict]:
    def is_loopback(interface: dict) -> bool:
        kind = text(interface.get("type"), SHORT_MAX, field="networks.type").lower()
        name = text(interface.get("description"), NAME_MAX, field="networks.description")
        return kind in ("loopback", "local") or name.lower() in _LOOPBACK_NAMES

    candidates = [i for i in interfaces if not is_loopback(i)]
    # The virtualdev flag is trusted unless the agent set it on every interface (seen on macOS
    # agents), which would leave the machine with no interface at all.
    if not all(to_bool(i.get("virtualdev")) is True for i in candidates):
        candidates = [i for i in candidates if to_bool(i.get("virtualdev")) is not True]
    entries = []
    for interface in candidates:
        addresses = [
            *as_str_list(interface.get("ipaddress"), "networks.ipaddress"),
            *as_str_list(interface.get("ipaddress6"), "networks.ipaddress6"),
        ]
        entries.append(network_entry(interface.get("description"), interface.get("mac"), addresses))
    return merge_interfaces(entries)


def _drives(drives: list[dict]) -> list[dict]:
    entries = []
    for drive in drives:
        filesystem = text(drive.get("filesystem"), SHORT_MAX, field="drives.filesystem")
        kind = text(drive.get("type"), NAME_MAX, field="drives.type")
        if filesystem.lower() in IGNORED_FILESYSTEMS or kind.lower() in _IGNORED_DRIVE_TYPES:
            continue
        mount = text(drive.get("letter"), NAME_MAX, field="drives.letter") or (
            kind if kind.startswith("/") else ""
        )
        volume = text(drive.get("volumn"), NAME_MAX, field="drives.volumn")
        total = to_int(drive.get("total"))
        free = to_int(drive.get("free"))
        used = max(total - free, 0) if total is not None and free is not None else None
        if not mount and not volume:
            continue
        if total is None and not filesystem:  # empty removable drive
            continue
        entries.append(storage_entry(mount, volume, filesystem, total, used))
    return unique_storage(entries)


# --- printers and network equipment (SNMP) ---------------------------------------------------


def _map_snmp_device(content: dict, info: dict, report: dict) -> None:
    sections = report["sections"]
    device = report["device"]
    if "network_device" in content:
        sections.add("device")
    device["hostname"] = text(info.get("name"), NAME_MAX, field="network_device.name").rstrip(".")
    device["serial_number"] = _serial(info.get("serial"), "network_device.serial")
    device["manufacturer"] = _first_real(
        info.get("manufacturer"), field="network_device.manufacturer"
    )
    device["model"] = _first_real(info.get("model"), field="network_device.model")
    mac = info.get("mac")
    device["macs"] = [] if is_placeholder_mac(mac) else [normalize_mac(mac)]

    firmware = text(info.get("firmware"), VERSION_MAX, field="network_device.firmware")
    firmwares = as_list(content.get("firmwares"), "firmwares")
    if not firmware and firmwares:
        firmware = text(firmwares[0].get("version"), VERSION_MAX, field="firmwares.version")
    if firmware:
        sections.add("os")
        device["os"]["version"] = firmware

    memory = to_int(info.get("memory")) or to_int(info.get("ram"))
    if memory is not None:
        sections.add("hardware")
        device["memory_mb"] = memory

    ports = as_list(content.get("network_ports"), "network_ports")
    device_ips = as_str_list(info.get("ips"), "network_device.ips")
    if "network_ports" in content or device_ips:
        sections.add("network")
        entries = []
        for port in ports:
            addresses = as_str_list(port.get("ips"), "network_ports.ips")
            addresses += as_str_list(port.get("ip"), "network_ports.ip")
            name = port.get("ifname") or port.get("ifdescr")
            entries.append(network_entry(name, port.get("mac"), addresses))
        # Device addresses that no port carries go on a "management" pseudo-interface.
        on_ports = {a for e in entries for a in (*e["ipv4"], *e["ipv6"])}
        management = network_entry("management", mac, device_ips)
        management["ipv4"] = [a for a in management["ipv4"] if a not in on_ports]
        management["ipv6"] = [a for a in management["ipv6"] if a not in on_ports]
        if management["ipv4"] or management["ipv6"]:
            entries.insert(0, management)
        report["network"] = merge_interfaces(entries)


# --- software and security -------------------------------------------------------------------


def _map_software(content: dict, report: dict) -> None:
    if "softwares" not in content:
        return
    report["sections"].add("software")
    softwares = as_list(content.get("softwares"), "softwares", limit=MAX_SOFTWARE * 2)
    report["software"] = unique_software(
        software_entry(s.get("name"), s.get("version"), s.get("publisher")) for s in softwares
    )


def _map_security(content: dict, report: dict) -> None:
    if "firewalls" not in content and "antivirus" not in content:
        return
    report["sections"].add("security")
    security: dict[str, Any] = {"firewall_enabled": None, "antivirus": []}
    firewalls = as_list(content.get("firewalls"), "firewalls")
    if firewalls:
        states = [to_bool(f.get("status")) for f in firewalls]
        if any(states):
            security["firewall_enabled"] = True
        elif any(state is False for state in states):
            security["firewall_enabled"] = False
    for antivirus in as_list(content.get("antivirus"), "antivirus"):
        entry = antivirus_entry(
            antivirus.get("name"), antivirus.get("enabled"), antivirus.get("uptodate")
        )
        if entry and entry not in security["antivirus"]:
            security["antivirus"].append(entry)
    report["security"] = security
