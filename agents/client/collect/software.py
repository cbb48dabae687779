"""The ``software`` section: dpkg, rpm and the running interpreter's Python distributions."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ._util import clip, guarded, read_text, run_command

MAX_SOFTWARE = 20000
DPKG_STATUS = Path("/var/lib/dpkg/status")
DPKG_INSTALLED = "install ok installed"
RPM_QUERY = [
    "rpm",
    "-qa",
    "--queryformat",
    "%{NAME}\\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\\t%{VENDOR}\\n",
]


def _entry(name: object, version: object, vendor: object, source: str) -> dict[str, str]:
    return {"name": clip(name), "version": clip(version), "vendor": clip(vendor), "source": source}


def _dpkg_paragraphs(text: str) -> Iterator[dict[str, str]]:
    """The stanzas of a dpkg status file as dicts (continuation lines are ignored)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                yield fields
            fields = {}
        elif line[0] in " \t":
            continue
        else:
            key, sep, value = line.partition(":")
            if sep:
                fields[key.strip()] = value.strip()
    if fields:
        yield fields


def dpkg_packages(status_path: Path = DPKG_STATUS) -> list[dict[str, str]]:
    """Installed Debian packages, read straight from dpkg's status database."""
    text = read_text(status_path, limit=256 << 20)
    if text is None:
        return []
    packages = []
    for fields in _dpkg_paragraphs(text):
        if fields.get("Status") != DPKG_INSTALLED or not fields.get("Package"):
            continue
        packages.append(
            _entry(
                fields["Package"], fields.get("Version", ""), fields.get("Maintainer", ""), "dpkg"
            )
        )
    return packages


def rpm_packages() -> list[dict[str, str]]:
    """Installed RPM packages, if ``rpm`` is present and its database is readable."""
    output = run_command(RPM_QUERY, timeout=120)
    if not output:
        return []
    packages = []
    for line in output.splitlines():
        parts = line.split("\t")
        if len(parts) < 2 or not parts[0] or parts[0] == "gpg-pubkey":
            continue
        version = parts[1][2:] if parts[1].startswith("0:") else parts[1]
        vendor = parts[2] if len(parts) > 2 and parts[2] != "(none)" else ""
        packages.append(_entry(parts[0], version, vendor, "rpm"))
    return packages


def pip_packages() -> list[dict[str, str]]:
    """Python distributions visible to the interpreter running the agent."""
    seen: set[str] = set()
    packages = []
    for dist in importlib.metadata.distributions():
        try:
            name = dist.metadata["Name"]
            if not name or name.lower() in seen:
                continue
            seen.add(name.lower())
            vendor = dist.metadata.get("Author") or dist.metadata.get("Author-email") or ""
            packages.append(_entry(name, dist.version, vendor, "pip"))
        except Exception:  # a broken METADATA file must not hide the others
            continue
    return packages


def collect_software(limit: int = MAX_SOFTWARE) -> list[dict[str, Any]]:
    """All sources, each guarded, sorted by source and name, at most ``limit`` entries."""
    found: list[dict[str, Any]] = []
    for name, source in (("dpkg", dpkg_packages), ("rpm", rpm_packages), ("pip", pip_packages)):
        found.extend(guarded(f"software ({name})", source, []))
    found.sort(key=lambda item: (item["source"], item["name"].lower(), item["version"]))
    return found[:limit]
