"""Durable small-file writes: temporary file, fsync, atomic rename, fsync of the directory."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def ensure_dir(path: Path, mode: int = 0o700) -> Path:
    """Create ``path`` (and parents) if missing; new directories get ``mode``."""
    path.mkdir(mode=mode, parents=True, exist_ok=True)
    return path


def fsync_dir(path: Path) -> None:
    """Flush a directory entry to disk so a rename inside it survives a crash (best effort)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` atomically: readers see the old or the new file, never half.

    The temporary file is created in the same directory with ``mode`` from the start, so a
    secret is never readable by others, even briefly.
    """
    directory = path.parent
    fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    fsync_dir(directory)


def read_json(path: Path) -> dict[str, Any] | None:
    """Return the JSON object stored at ``path``, or None if it is missing or unreadable."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def write_json(path: Path, value: dict[str, Any], mode: int = 0o600) -> None:
    """Store ``value`` as pretty JSON at ``path`` atomically."""
    text = json.dumps(value, indent=2, sort_keys=True) + "\n"
    atomic_write(path, text.encode("utf-8"), mode=mode)
