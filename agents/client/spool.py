"""A durable local queue of reports: one file per report, delivered oldest first.

Files are named ``<ns since epoch, 20 digits>-<counter>-<random>.json`` so that sorting the
names gives the order they were queued in. Each is written atomically (temporary file, fsync,
rename), so a crash leaves either a complete report or nothing. The spool holds at most
``max_files`` reports and ``max_bytes`` in all; beyond that the oldest are dropped with a
warning (the newest report is always kept). Reports the server
rejects for good are moved to ``rejected/`` with the server's answer beside them (the last few
are kept for inspection).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import secrets
import time
from pathlib import Path

from .files import atomic_write, ensure_dir, fsync_dir

logger = logging.getLogger(__name__)

DEFAULT_MAX_FILES = 500
DEFAULT_MAX_BYTES = 512 * 1024 * 1024
DEFAULT_KEEP_REJECTED = 5
SUFFIX = ".json"
ANSWER_SUFFIX = ".answer.txt"
STALE_TMP_SECONDS = 3600

_counter = itertools.count()


class Spool:
    """The spool directory of one agent."""

    def __init__(
        self,
        directory: Path,
        *,
        max_files: int = DEFAULT_MAX_FILES,
        max_bytes: int = DEFAULT_MAX_BYTES,
        keep_rejected: int = DEFAULT_KEEP_REJECTED,
    ) -> None:
        if max_files < 1:
            raise ValueError("max_files must be at least 1")
        self.directory = directory
        self.rejected_directory = directory / "rejected"
        self.max_files = max_files
        self.max_bytes = max_bytes
        self.keep_rejected = keep_rejected

    def put(self, body: bytes) -> Path:
        """Queue one report body durably; drop the oldest reports beyond the cap."""
        ensure_dir(self.directory, 0o700)
        name = f"{time.time_ns():020d}-{next(_counter) % 1_000_000:06d}-{secrets.token_hex(4)}"
        path = self.directory / (name + SUFFIX)
        atomic_write(path, body, mode=0o600)
        self._enforce_cap()
        return path

    def pending(self) -> list[Path]:
        """Queued reports, oldest first."""
        try:
            entries = list(self.directory.iterdir())
        except FileNotFoundError:
            return []
        self._remove_stale_tmp(entries)
        return sorted(
            (
                p
                for p in entries
                if p.suffix == SUFFIX and not p.name.startswith(".") and p.is_file()
            ),
            key=lambda p: p.name,
        )

    def __len__(self) -> int:
        return len(self.pending())

    def read(self, path: Path) -> bytes:
        """The exact bytes of a queued report."""
        return path.read_bytes()

    def remove(self, path: Path) -> None:
        """Forget a delivered report."""
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        fsync_dir(self.directory)

    def reject(self, path: Path, answer: str = "") -> None:
        """Take a report the server refused for good out of the queue, so it no longer blocks
        the reports behind it: kept briefly in rejected/ with the server's `answer` beside it
        (``<name>.answer.txt``)."""
        if self.keep_rejected <= 0:
            self.remove(path)
            return
        ensure_dir(self.rejected_directory, 0o700)
        if answer:
            atomic_write(
                self.rejected_directory / (path.stem + ANSWER_SUFFIX),
                answer.encode("utf-8", "replace"),
                mode=0o600,
            )
        with contextlib.suppress(FileNotFoundError):
            os.replace(path, self.rejected_directory / path.name)
        fsync_dir(self.directory)
        kept = sorted(self.rejected_directory.glob("*" + SUFFIX), key=lambda p: p.name)
        for old in kept[: max(0, len(kept) - self.keep_rejected)]:
            for stale in (old, old.with_name(old.stem + ANSWER_SUFFIX)):
                with contextlib.suppress(FileNotFoundError):
                    stale.unlink()

    def rejected(self) -> list[Path]:
        """Reports moved aside by `reject`, oldest first."""
        try:
            return sorted(self.rejected_directory.glob("*" + SUFFIX), key=lambda p: p.name)
        except FileNotFoundError:
            return []

    def _enforce_cap(self) -> None:
        queued = self.pending()
        sizes = []
        for path in queued:
            try:
                sizes.append(path.stat().st_size)
            except OSError:
                sizes.append(0)
        drop = max(0, len(queued) - self.max_files)
        total = sum(sizes[drop:])
        while drop < len(queued) - 1 and total > self.max_bytes:
            total -= sizes[drop]
            drop += 1
        if drop:
            logger.warning(
                "spool %s is full (%d reports, %d bytes; caps %d reports, %d bytes): "
                "dropping the %d oldest",
                self.directory,
                len(queued),
                sum(sizes),
                self.max_files,
                self.max_bytes,
                drop,
            )
            for path in queued[:drop]:
                self.remove(path)

    def _remove_stale_tmp(self, entries: list[Path]) -> None:
        """Delete temporary files left behind by a crash in the middle of a write."""
        cutoff = time.time() - STALE_TMP_SECONDS
        for entry in entries:
            if entry.name.startswith(".tmp-"):
                with contextlib.suppress(OSError):
                    if entry.stat().st_mtime < cutoff:
                        entry.unlink()
