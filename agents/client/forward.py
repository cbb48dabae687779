"""Inventories made by other agents, sent signed by this one (``itsm-agent send FILE``).

Machines that already run a GLPI agent or a FusionInventory / OCS agent can write their
inventory to a file (``glpi-agent --local``, ``fusioninventory-agent --local``) and let
``itsm-agent`` deliver it: the server maps both onto the same CMDB records as our own reports.
"""

from __future__ import annotations

import gzip
import json
import zlib
from typing import Any

#: Report formats the server accepts as they are.
OWN_FORMATS = ("itsm-inventory/1", "glpi-inventory", "fusion-xml")


class NotAnInventory(ValueError):
    """The file is neither an XML nor a JSON inventory."""


def envelope(data: bytes, *, collected_at: str) -> dict[str, Any]:
    """The report body for an inventory file's bytes.

    XML (FusionInventory / OCS ``<REQUEST>``) goes as the ``"xml"`` string of a
    ``fusion-xml`` report; a GLPI agent JSON inventory (``content``, ``deviceid``) gets
    ``"format": "glpi-inventory"``; a report already in one of the server's formats is sent
    unchanged. gzip and zlib files are inflated first.
    """
    data = _inflate(data)
    text = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"<"):
        try:
            xml = text.decode("utf-8")
        except UnicodeDecodeError:  # old agents write Latin-1 (and often declare UTF-8)
            xml = text.decode("latin-1")
        return {"format": "fusion-xml", "collected_at": collected_at, "xml": xml}
    try:
        document = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise NotAnInventory(f"neither XML nor JSON ({exc})") from None
    if not isinstance(document, dict):
        raise NotAnInventory("a JSON inventory is an object")
    if document.get("format") in OWN_FORMATS:
        return document
    if isinstance(document.get("content"), dict):
        return {"format": "glpi-inventory", **document}
    raise NotAnInventory('a JSON inventory needs a "format" or a GLPI "content" object')


def _inflate(data: bytes) -> bytes:
    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data)
    if data[:1] == b"\x78":
        try:
            return zlib.decompress(data)
        except zlib.error:
            return data
    return data
