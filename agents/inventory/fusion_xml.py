"""FusionInventory / OCS / Rudder XML inventory → normalised report.

The XML (``<REQUEST><CONTENT>…</CONTENT><DEVICEID>…</DEVICEID><QUERY>INVENTORY</QUERY>``) is
parsed with defusedxml only, refusing DTDs, entity declarations and external references
(billion laughs, XXE). Its ``CONTENT`` is turned into the lower-case structure of the GLPI JSON
format (what GLPI's own converter does) and mapped by `agents.inventory.glpi.map_content`.

SNMP network inventories (``<CONTENT><DEVICE><INFO>…<PORTS><PORT>…``) are mapped onto the
GLPI ``network_device`` / ``network_ports`` keys.
"""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from agents.inventory.glpi import map_content
from agents.inventory.normalized import NAME_MAX, SHORT_MAX, InventoryFormatError, text

FORMAT = "fusion-xml"
MAX_XML_BYTES = 64 * 1024 * 1024

# CONTENT children that hold one object (everything else is a repeated list entry).
_SINGLE = frozenset({"BIOS", "HARDWARE", "OPERATINGSYSTEM", "ACCESSLOG", "VERSIONPROVIDER"})
# XML tag → GLPI JSON key, where they differ.
_SECTION_KEYS = {"FIREWALL": "firewalls"}
_FIELD_KEYS = {"networks": {"macaddr": "mac"}, "softwares": {"installdate": "install_date"}}
_MAX_DEPTH = 8


def normalize_xml(data: bytes | str) -> dict:
    """Parse and map a FusionInventory/OCS XML inventory; `InventoryFormatError` if unusable."""
    root = parse(data)
    content = root.find("CONTENT")
    if content is None:
        raise InventoryFormatError("XML inventory: <CONTENT> is missing")
    query = text(root.findtext("QUERY"), SHORT_MAX, field="QUERY").upper()
    if query and query not in ("INVENTORY", "SNMPQUERY", "NETINVENTORY"):
        raise InventoryFormatError(f"XML inventory: QUERY {query!r} is not an inventory")
    structure = _content(content)
    action = "inventory"
    if content.find("DEVICE") is not None:
        action = "netinventory"
        structure.update(_snmp_device(content.find("DEVICE")))
    return map_content(
        structure,
        fmt=FORMAT,
        device_id=text(root.findtext("DEVICEID"), NAME_MAX, field="DEVICEID"),
        itemtype=root.findtext("ITEMTYPE"),
        action=action,
        partial=False,
    )


def parse(data: bytes | str) -> Element:
    """The ``<REQUEST>`` root of `data`, parsed safely."""
    if not isinstance(data, (bytes, bytearray, str)):
        raise InventoryFormatError("XML inventory: expected bytes")
    if len(data) > MAX_XML_BYTES:
        raise InventoryFormatError("XML inventory: too large")
    if isinstance(data, bytearray):
        data = bytes(data)
    try:
        root = _fromstring(data)
    except ParseError as error:
        if isinstance(data, str) or _is_utf8(data):
            raise InventoryFormatError(f"XML inventory: not well-formed ({error})") from None
        # Old agents sometimes declare UTF-8 and write Latin-1 bytes: keep what is readable.
        try:
            root = _fromstring(data.decode("utf-8", errors="replace").encode("utf-8"))
        except ParseError:
            raise InventoryFormatError(f"XML inventory: not well-formed ({error})") from None
    if root.tag != "REQUEST":
        raise InventoryFormatError(f"XML inventory: root element is <{root.tag}>, not <REQUEST>")
    return root


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _fromstring(data: bytes | str) -> Element:
    try:
        return fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as error:
        raise InventoryFormatError(
            f"XML inventory: refused ({type(error).__name__}): DTDs and entities are not allowed"
        ) from None
    except (LookupError, UnicodeError) as error:  # unknown or broken declared encoding
        raise InventoryFormatError(f"XML inventory: unreadable encoding ({error})") from None


def _element(element: Element, field_keys: dict[str, str], depth: int = 0) -> Any:
    """An element as a string (leaf) or a dict of its children (repeated children → list)."""
    if len(element) == 0:
        return element.text or ""
    if depth > _MAX_DEPTH:
        raise InventoryFormatError("XML inventory: nested too deeply")
    grouped: dict[str, list[Any]] = {}
    for child in element:
        key = child.tag.lower()
        grouped.setdefault(field_keys.get(key, key), []).append(_element(child, {}, depth + 1))
    return {key: values[0] if len(values) == 1 else values for key, values in grouped.items()}


def _content(content: Element) -> dict[str, Any]:
    structure: dict[str, Any] = {}
    for child in content:
        tag = child.tag
        if not isinstance(tag, str) or tag == "DEVICE":
            continue
        key = _SECTION_KEYS.get(tag, tag.lower())
        value = _element(child, _FIELD_KEYS.get(key, {}))
        if not isinstance(value, dict):
            # <VERSIONCLIENT>x</VERSIONCLIENT> is kept; an empty <SOFTWARES/> or <VMS></VMS>
            # says nothing (it must not empty a section), so it is left out.
            if value.strip():
                structure.setdefault(key, value)
            continue
        if tag in _SINGLE:
            structure.setdefault(key, value)
        else:
            structure.setdefault(key, []).append(value)
    return structure


def _snmp_device(device: Element) -> dict[str, Any]:
    """``<DEVICE><INFO>`` and ``<PORTS><PORT>`` of an SNMP inventory as GLPI keys."""
    structure: dict[str, Any] = {}
    info = device.find("INFO")
    if info is not None:
        data = _element(info, {})
        data = data if isinstance(data, dict) else {}
        ips = data.pop("ips", None)
        if isinstance(ips, dict):
            ips = ips.get("ip")
        if ips is not None:
            data["ips"] = ips if isinstance(ips, list) else [ips]
        structure["network_device"] = data
    ports = device.find("PORTS")
    if ports is not None:
        entries = []
        for port in ports.findall("PORT"):
            data = _element(port, {})
            if not isinstance(data, dict):
                continue
            ips = data.pop("ips", None)
            if isinstance(ips, dict):
                ips = ips.get("ip")
            if ips is not None:
                data["ips"] = ips if isinstance(ips, list) else [ips]
            entries.append(data)
        structure["network_ports"] = entries
    return structure
