"""Small defensive helpers shared by the collectors: bounded strings, safe reads, safe commands."""

from __future__ import annotations

import datetime
import logging
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

logger = logging.getLogger("agents.client.collect")

MAX_STRING = 255
T = TypeVar("T")


def clip(value: object, limit: int = MAX_STRING) -> str:
    """``value`` as a printable, stripped string of at most ``limit`` characters."""
    if value is None:
        return ""
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    text = "".join(ch if ch.isprintable() else " " for ch in text).strip()
    return text[:limit]


def clip_or_none(value: object, limit: int = MAX_STRING) -> str | None:
    """Like :func:`clip`, but None (or empty) stays None."""
    text = clip(value, limit)
    return text or None


def read_text(path: str | Path, limit: int = 1 << 20) -> str | None:
    """The start of a text file (at most ``limit`` bytes), or None if it cannot be read."""
    try:
        with open(path, "rb") as handle:
            return handle.read(limit).decode("utf-8", "replace")
    except OSError:
        return None


def read_tail(path: str | Path, limit: int = 8 << 20) -> str | None:
    """The last ``limit`` bytes of a text file, starting on a line boundary; None if unreadable."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            start = max(0, size - limit)
            handle.seek(start)
            data = handle.read(limit)
    except OSError:
        return None
    if start:
        data = data.split(b"\n", 1)[1] if b"\n" in data else b""
    return data.decode("utf-8", "replace")


def run_command(args: list[str], timeout: float = 10.0) -> str | None:
    """Run a command if it is installed; its stdout when it exits 0, else None. Never raises."""
    if not shutil.which(args[0]):
        return None
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    try:
        done = subprocess.run(
            args,
            capture_output=True,
            timeout=timeout,
            env=env,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        logger.debug("%s failed: %s", args[0], exc)
        return None
    if done.returncode != 0:
        logger.debug("%s exited %s", args[0], done.returncode)
        return None
    return done.stdout.decode("utf-8", "replace")


def guarded(name: str, func: Callable[[], T], default: T) -> T:
    """Call ``func``; on any error log it and return ``default`` (a section never crashes)."""
    try:
        return func()
    except Exception as exc:  # a broken source must not cost the whole report
        logger.warning("collecting %s failed: %s: %s", name, type(exc).__name__, exc)
        return default


def iso_utc(moment: datetime.datetime) -> str:
    """ISO 8601 in UTC with a ``Z``, to the second."""
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
