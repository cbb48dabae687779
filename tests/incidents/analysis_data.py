"""The planted-cause data set of the root-cause comparison tests: 1,000 desktops, the 40 that
crash all run BrowserPlug 2.3, which 5% of the others run, amid noise software and attributes."""

from __future__ import annotations

import random

from cmdb.models import (
    ConfigurationItem,
    InstalledSoftware,
    SoftwareProduct,
    SoftwareVersion,
)
from tests.factories import CITypeFactory

N_DESKTOPS = 1000
N_CRASHING = 40
PLUGIN = ("BrowserPlug", "2.3")


def planted(seed: int = 7) -> tuple[list[int], list[int]]:
    """Create the desktops; answer (crashing ids, other ids)."""
    rng = random.Random(seed)
    desktop = CITypeFactory(name="Test desktop", slug="test-desktop")
    cis = ConfigurationItem.objects.bulk_create(
        ConfigurationItem(
            ci_type=desktop,
            name=f"desk-{i:04d}",
            status="production",
            attributes={
                "os": rng.choice(["Windows 10", "Windows 11"]),
                "ram_gb": rng.choice([8, 16, 32]),
                "vendor": rng.choice(["Dell", "HP", "Lenovo"]),
                "encrypted": rng.random() < 0.8,
                "tags": ["nested", "ignored"],
            },
        )
        for i in range(N_DESKTOPS)
    )
    ids = [ci.pk for ci in cis]
    crashing, others = ids[:N_CRASHING], ids[N_CRASHING:]
    versions: dict[tuple[str, str], int] = {}

    def version(name: str, ver: str) -> int:
        if (name, ver) not in versions:
            product, _ = SoftwareProduct.objects.get_or_create(
                name_key=name.lower(), vendor_key="", defaults={"name": name}
            )
            versions[name, ver] = SoftwareVersion.objects.create(product=product, version=ver).pk
        return versions[name, ver]

    rows = []
    plugin_users = set(crashing) | set(rng.sample(others, round(0.05 * len(others))))
    for pk in ids:
        if pk in plugin_users:
            rows.append((pk, version(*PLUGIN)))
        elif rng.random() < 0.6:
            rows.append((pk, version("BrowserPlug", "2.2")))
        for n in range(25):  # noise: common products in a few versions
            if rng.random() < 0.2 + 0.02 * n:
                rows.append((pk, version(f"Tool {n}", rng.choice(["1.0", "1.1", "2.0"]))))
    InstalledSoftware.objects.bulk_create(
        InstalledSoftware(ci_id=ci, software_id=sw) for ci, sw in rows
    )
    return crashing, others
