"""Identity helpers: recognise the same machine across reports, agents and formats.

Builds on `cmdb.identifiers` (plain spelling normalisation) and adds what inventory data needs:
placeholder detection (firmware junk such as ``To be filled by O.E.M.``, all-zero UUIDs,
loopback MACs, which would merge unrelated machines into one CI), the SMBIOS byte-swapped UUID
variant, and `identity_keys()`, the set of normalised keys a matcher compares.

Pure Python: no Django, no database.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from cmdb import identifiers

__all__ = [
    "identity_keys",
    "is_placeholder_mac",
    "is_placeholder_serial",
    "is_placeholder_text",
    "is_placeholder_uuid",
    "normalize_hostname",
    "normalize_mac",
    "normalize_manufacturer",
    "normalize_serial",
    "normalize_uuid",
    "short_hostname",
    "swap_uuid",
    "uuid_variants",
]


def _squash(value: str) -> str:
    """Lower case, letters and digits only: ``To Be Filled By O.E.M.`` → ``tobefilledbyoem``."""
    return re.sub(r"[^0-9a-z]", "", value.casefold())


# Firmware / vendor junk seen in serial, model and manufacturer fields (compared squashed).
# Sources: the samples in /work/shared/data/inventory-samples and the blacklists GLPI and OCS
# keep for the same purpose.
_JUNK_TEXT = frozenset(
    _squash(s)
    for s in (
        "Not Specified",
        "Not Applicable",
        "Not Available",
        "N/A",
        "NA",
        "None",
        "Null",
        "(null string)",
        "Unknown",
        "Unknow",
        "Empty",
        "Default string",
        "To be filled by O.E.M.",
        "To be filled by OEM",
        "OEM",
        "O.E.M.",
        "OEM_Serial",
        "System Serial Number",
        "SystemSerialNumb",
        "System Serial",
        "Chassis Serial Number",
        "Base Board Serial Number",
        "Board Serial Number",
        "Serial Number",
        "SerialNumber",
        "Serial",
        "System manufacturer",
        "System Manufacturer Name",
        "System Product Name",
        "System Name",
        "System Version",
        "Product Name",
        "Base Board Product Name",
        "Type1ProductConfigId",
        "INVALID",
        "EVAL",
        "IATPASS",
        "Tulip Computers",
        "SYS-1234567890",
        "SYS-9876543210",
        "SN-12345",
        "SN-1234567890",
        "MB-1234567890",
        "Serial Number xxxxxx",
        "Not Set",
        "Undefined",
        "Invalid Serial Number",
        "No Asset Information",
        "No Asset Tag",
    )
)

# Counting sequences used as fake serials.
_JUNK_SEQUENCES = frozenset(
    {
        "12345",
        "123456",
        "1234567",
        "12345678",
        "123456789",
        "1234567890",
        "0123456789",
        "123456789000",
        "12345678901234567",
        "987654321",
        "9876543210",
    }
)

_MIN_SERIAL_LENGTH = 3


def is_placeholder_text(value: Any) -> bool:
    """True for empty values and known firmware junk (``Default string``, ``Not Specified``…).

    Used for manufacturer and model fields, and as the base of `is_placeholder_serial`.
    """
    if value is None:
        return True
    text = str(value).strip()
    if not text:
        return True
    squashed = _squash(text)
    if not squashed:  # only punctuation: "-", "...", "//"
        return True
    return squashed in _JUNK_TEXT


def is_placeholder_serial(value: Any) -> bool:
    """True when `value` cannot identify a machine: empty, junk or a filler pattern.

    Rejects, case-insensitively and ignoring punctuation: the junk list of
    `is_placeholder_text`, counting sequences (``123456789``), a single repeated character
    (``0``, ``00000000``, ``xxxxxxxxxx``, ``FFFF-FFFF``), and anything shorter than three
    characters.
    """
    if is_placeholder_text(value):
        return True
    squashed = _squash(str(value))
    if len(set(squashed)) == 1:
        return True
    if len(squashed) < _MIN_SERIAL_LENGTH:
        return True
    return squashed in _JUNK_SEQUENCES


def normalize_serial(value: Any) -> str:
    """Stripped serial (case kept, as `cmdb.identifiers.normalize_serial`), "" for placeholders."""
    if value is None or isinstance(value, (dict, list, tuple, set)):
        return ""
    serial = identifiers.normalize_serial(str(value))
    return "" if is_placeholder_serial(serial) else serial


# --- UUIDs -----------------------------------------------------------------------------------

# 8-4-4-4-12 letters and digits. Deliberately not hex-only: GLPI's sample data obfuscates
# UUIDs with other letters (``4BDRGGFE-0046-…``) and a matcher should still use them.
_UUID_SHAPE = re.compile(r"^[0-9a-z]{8}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{12}$")
_UUID_HEX32 = re.compile(r"^[0-9a-f]{32}$")

_JUNK_UUIDS = frozenset(
    {
        "03000200-0400-0500-0006-000700080009",  # many boards (Gigabyte, ASRock…) ship it
        "6ab5b300-538d-1014-9fb5-b0684d007b53",
        "01010101-0101-0101-0101-010101010101",
        "00000000-0000-0000-0000-000000000001",
    }
)


def _clean_uuid(value: Any) -> str:
    """Lower case without braces, spaces and a ``urn:uuid:`` prefix; dashes added to 32 hex."""
    if value is None or isinstance(value, (dict, list, tuple, set)):
        return ""
    text = re.sub(r"[\s{}]", "", str(value)).lower()
    text = text.removeprefix("urn:uuid:")
    if _UUID_HEX32.match(text):
        text = f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
    return text


def is_placeholder_uuid(value: Any) -> bool:
    """True for empty, badly shaped (``AAAAAAA-BBBBBB-CCCCCCC``), all-zero / all-F / one
    repeated character, and UUIDs known to be shared by many boards."""
    text = _clean_uuid(value)
    if not _UUID_SHAPE.match(text):
        return True
    if len(set(text.replace("-", ""))) == 1:
        return True
    return text in _JUNK_UUIDS or swap_uuid(text) in _JUNK_UUIDS


def normalize_uuid(value: Any) -> str:
    """Lower case, no braces or spaces; "" when the value is a placeholder or not UUID-shaped."""
    if is_placeholder_uuid(value):
        return ""
    return identifiers.normalize_uuid(_clean_uuid(value))


def swap_uuid(value: str) -> str:
    """SMBIOS byte order swap of a normalised UUID: the first three groups are byte-reversed.

    SMBIOS stores the first three fields little-endian; some tools (Windows' WMI serial on
    VirtualBox, older dmidecode) print them as stored, others as RFC 4122 big-endian, so the
    same machine shows up as ``4c4c4544-0042-3510-…`` and ``44454c4c-4200-1035-…``.
    """
    groups = value.split("-")
    if len(groups) != 5:
        return value

    def reverse_bytes(group: str) -> str:
        return "".join(reversed([group[i : i + 2] for i in range(0, len(group), 2)]))

    return "-".join([*(reverse_bytes(g) for g in groups[:3]), *groups[3:]])


def uuid_variants(value: Any) -> set[str]:
    """The normalised UUID and its SMBIOS byte-swapped form; empty set for a placeholder."""
    normalised = normalize_uuid(value)
    if not normalised:
        return set()
    return {normalised, swap_uuid(normalised)}


# --- MAC addresses ---------------------------------------------------------------------------

# Addresses shared by many unrelated machines: virtual adapters with fixed addresses, Windows
# pseudo-interfaces, stock examples.
_JUNK_MACS = frozenset(
    {
        "02:00:4c:4f:4f:50",  # Npcap / Microsoft loopback adapter ("LOOP")
        "20:41:53:59:4e:ff",  # Windows RAS async adapter (" ASYN")
        "50:50:54:50:30:30",  # WAN Miniport PPTP ("PPTP00")
        "33:50:6f:45:30:30",  # WAN Miniport PPPoE ("3PoE00")
        "00:53:45:00:00:00",  # WAN Miniport
        "44:45:53:54:42:00",  # Nortel/Windows "DESTB"
        "44:45:53:54:00:00",
        "02:00:4e:43:50:49",  # "NCPI" VPN adapter
        "00:a0:c6:00:00:00",  # Qualcomm placeholder
        "00:50:56:c0:00:01",  # VMware Workstation host-only (vmnet1), same on every host
        "00:50:56:c0:00:08",  # VMware Workstation NAT (vmnet8), same on every host
        "0a:00:27:00:00:00",  # VirtualBox host-only adapters, same on every host
        "ac:de:48:00:11:22",  # Apple T2/Touch Bar iBridge NIC, same on every Mac
        "00:05:9a:3c:7a:00",  # Cisco AnyConnect virtual adapter
        "12:34:56:78:9a:bc",
        "01:23:45:67:89:ab",
        "00:11:22:33:44:55",
        "11:22:33:44:55:66",
        "aa:bb:cc:dd:ee:ff",
        "de:ad:be:ef:de:ad",
    }
)
_VBOX_HOST_ONLY = re.compile(r"^0a:00:27:00:00:[0-9a-f]{2}$")


def normalize_mac(value: Any) -> str:
    """``00-1A-2B-3C-4D-5E`` / ``001a.2b3c.4d5e`` → ``00:1a:2b:3c:4d:5e``; "" if not 12 hex digits."""
    if value is None or isinstance(value, (dict, list, tuple, set)):
        return ""
    return identifiers.normalize_mac(str(value))


def is_placeholder_mac(value: Any) -> bool:
    """True for unparseable, all-zero, broadcast, multicast, one-octet-repeated and well-known
    shared addresses (loopback and virtual adapters that carry the same MAC on every host)."""
    mac = normalize_mac(value)
    if not mac:
        return True
    if mac in _JUNK_MACS or _VBOX_HOST_ONLY.match(mac):
        return True
    octets = mac.split(":")
    if len(set(octets)) == 1:
        return True
    return bool(int(octets[0], 16) & 0x01)  # group bit: never an interface's own address


# --- host names ------------------------------------------------------------------------------


def normalize_hostname(value: Any) -> str:
    """Lower case, stripped, no trailing dot; the FQDN is kept (see `short_hostname`)."""
    if value is None or isinstance(value, (dict, list, tuple, set)):
        return ""
    return identifiers.normalize_hostname(str(value))


def short_hostname(value: Any) -> str:
    """The first label of the normalised host name (``Web-01.Example.org.`` → ``web-01``).

    IP addresses are returned whole rather than cut at the first dot.
    """
    name = normalize_hostname(value)
    if not name:
        return ""
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return name.split(".", 1)[0]
    return name


# --- everything a matcher compares -----------------------------------------------------------


def identity_keys(report: dict) -> dict[str, Any]:
    """Normalised identity keys of a normalised report (or of its ``device`` dict).

    Returns ``{"uuids": set, "serial": str, "serial_uuids": set, "macs": set,
    "hostname": str, "short_hostname": str, "device_id": str}`` where:

    * ``uuids``: `uuid_variants` of the device UUID (both byte orders);
    * ``serial``: the serial as reported, "" for placeholders; compare it case-insensitively;
    * ``serial_uuids``: when the serial itself is UUID-shaped (VirtualBox and Hyper-V VMs,
      Rudder nodes), its variants, to compare with other reports' ``uuids``;
    * ``macs``: non-placeholder MACs of physical interfaces;
    * ``device_id``: the agent's own id (GLPI ``deviceid``), stable per agent install;
    * ``manufacturer``: case-folded, "" for placeholders: a serial number identifies a machine
      only together with its manufacturer (alone it is a weak identifier).

    A host name alone is not an identity: several distinct machines in the samples are all
    called ``agent1``.
    """
    device = report.get("device", report) if isinstance(report, dict) else {}
    serial = normalize_serial(device.get("serial_number"))
    macs = {normalize_mac(m) for m in device.get("macs") or () if not is_placeholder_mac(m)}
    return {
        "uuids": uuid_variants(device.get("uuid")),
        "serial": serial,
        "serial_uuids": uuid_variants(serial) if serial else set(),
        "macs": macs,
        "hostname": normalize_hostname(device.get("hostname")),
        "short_hostname": short_hostname(device.get("hostname")),
        "device_id": str(report.get("device_id") or "") if isinstance(report, dict) else "",
        "manufacturer": normalize_manufacturer(device.get("manufacturer")),
    }


def normalize_manufacturer(value: Any) -> str:
    """Case-folded and stripped, "" for empty values and firmware junk (``System manufacturer``)."""
    if value is None or isinstance(value, (dict, list, tuple, set)) or is_placeholder_text(value):
        return ""
    return " ".join(str(value).split()).casefold()
