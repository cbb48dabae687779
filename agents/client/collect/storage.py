"""The ``storage`` section: mounted real filesystems with their size and use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psutil

from ._util import clip

MAX_FILESYSTEMS = 512
MB = 1024 * 1024


@dataclass(frozen=True)
class Filesystem:
    """One mounted filesystem as measured now."""

    mount: str
    device: str
    filesystem: str
    size_mb: int
    used_mb: int
    percent: float

    def as_report(self) -> dict[str, Any]:
        """The entry of the report's storage list."""
        return {
            "mount": self.mount,
            "device": self.device,
            "filesystem": self.filesystem,
            "size_mb": self.size_mb,
            "used_mb": self.used_mb,
        }


def filesystems() -> list[Filesystem]:
    """Real (device-backed) filesystems from ``psutil.disk_partitions(all=False)``.

    A mount point whose usage cannot be read (stale NFS, permission) is skipped.
    """
    seen: set[str] = set()
    found = []
    for part in psutil.disk_partitions(all=False):
        if part.mountpoint in seen or len(found) >= MAX_FILESYSTEMS:
            continue
        seen.add(part.mountpoint)
        try:
            usage = psutil.disk_usage(part.mountpoint)
        except OSError:
            continue
        found.append(
            Filesystem(
                mount=clip(part.mountpoint),
                device=clip(part.device),
                filesystem=clip(part.fstype),
                size_mb=int(usage.total // MB),
                used_mb=int(usage.used // MB),
                percent=float(usage.percent),
            )
        )
    return found
