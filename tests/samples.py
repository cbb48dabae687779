"""Where the real inventory samples are: `../shared/data/inventory-samples` beside the checkout.

They are test data kept outside the repository (see their README for sources and licences).
`ITSM_INVENTORY_SAMPLES` overrides the location.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_CANDIDATES = [
    os.environ.get("ITSM_INVENTORY_SAMPLES", ""),
    str(ROOT.parent / "shared" / "data" / "inventory-samples"),
    "/work/shared/data/inventory-samples",
]
SAMPLES = next((Path(c) for c in _CANDIDATES if c and Path(c).is_dir()), Path(_CANDIDATES[-1]))


def glpi_sample(name: str) -> dict:
    """A GLPI JSON sample wrapped in our `glpi-inventory` report envelope."""
    import json

    document = json.loads((SAMPLES / "glpi-json" / name).read_text(encoding="utf-8"))
    return {"format": "glpi-inventory", **document}
