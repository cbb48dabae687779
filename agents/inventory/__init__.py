"""Inventory mapping: any supported agent report → one normalised dict (pure Python).

* `normalize_report(body)`: a JSON report body, dispatched on ``body["format"]``:
  ``"itsm-inventory/1"`` (our agent, `native`), ``"glpi-inventory"`` (GLPI agent JSON,
  `glpi`) or ``"fusion-xml"`` (an XML inventory as the ``"xml"`` string of the body);
* `normalize_xml(data)`: FusionInventory / OCS / Rudder XML (`fusion_xml`), parsed with
  defusedxml, DTDs and entities refused.

Both return the shape documented in `agents.inventory.normalized` and raise
`InventoryFormatError` (a `ValueError`) on anything malformed. Identity helpers (placeholder
serials/UUIDs/MACs, SMBIOS byte-swapped UUIDs) are in `agents.inventory.identity`.
No database access and no Django models here.
"""

from __future__ import annotations

from typing import Any

from agents.inventory.fusion_xml import normalize_xml
from agents.inventory.glpi import normalize_glpi
from agents.inventory.native import normalize_native
from agents.inventory.normalized import FORMATS, ITEM_TYPES, SECTIONS, InventoryFormatError

__all__ = [
    "FORMATS",
    "ITEM_TYPES",
    "SECTIONS",
    "InventoryFormatError",
    "normalize_report",
    "normalize_xml",
]

_MAPPERS = {
    "itsm-inventory/1": normalize_native,
    "glpi-inventory": normalize_glpi,
    # A FusionInventory / OCS XML inventory in a JSON envelope: {"format", "xml"}.
    "fusion-xml": lambda body: normalize_xml(body.get("xml")),
}


def normalize_report(body: Any) -> dict:
    """Normalise a JSON report body according to its ``"format"``."""
    if not isinstance(body, dict):
        raise InventoryFormatError("report: expected a JSON object")
    fmt = body.get("format")
    mapper = _MAPPERS.get(fmt) if isinstance(fmt, str) else None
    if mapper is None:
        raise InventoryFormatError(
            f"format: expected one of {', '.join(sorted(_MAPPERS))}, got {fmt!r}"
        )
    return mapper(body)
