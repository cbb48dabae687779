"""The ``device`` section: identity (hostname, DMI), operating system, CPU and memory."""

from __future__ import annotations

import platform
import socket
from pathlib import Path
from typing import Any

import psutil

from ._util import clip, guarded, read_text

DMI_DIR = Path("/sys/class/dmi/id")
OS_RELEASE_FILES = (Path("/etc/os-release"), Path("/usr/lib/os-release"))
DMI_PLACEHOLDERS = {
    "to be filled by o.e.m.",
    "default string",
    "not specified",
    "system serial number",
    "none",
    "0",
}


def dmi(field: str, directory: Path = DMI_DIR) -> str:
    """A DMI attribute (``product_uuid``, ``product_serial``, …); "" if unreadable or a placeholder."""
    value = clip(read_text(directory / field, limit=4096) or "")
    return "" if value.lower() in DMI_PLACEHOLDERS else value


def os_release(paths: tuple[Path, ...] = OS_RELEASE_FILES) -> dict[str, str]:
    """Key/value pairs of the first readable os-release file."""
    for path in paths:
        text = read_text(path, limit=65536)
        if text is None:
            continue
        values: dict[str, str] = {}
        for line in text.splitlines():
            key, sep, value = line.strip().partition("=")
            if sep and key and not key.startswith("#"):
                values[key] = value.strip().strip("'\"")
        return values
    return {}


def operating_system() -> dict[str, str]:
    """``{"name", "version", "kernel", "arch"}`` from os-release, falling back to :mod:`platform`."""
    release = os_release()
    return {
        "name": clip(release.get("NAME") or platform.system()),
        "version": clip(release.get("VERSION_ID") or release.get("VERSION") or platform.version()),
        "kernel": clip(platform.release()),
        "arch": clip(platform.machine()),
    }


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo, else :func:`platform.processor`."""
    text = read_text("/proc/cpuinfo", limit=1 << 20) or ""
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() in ("model name", "hardware", "cpu model", "processor"):
            value = value.strip()
            if value and not value.isdigit():
                return clip(value)
    return clip(platform.processor() or platform.machine())


def cpu() -> dict[str, Any]:
    """``{"model", "cores", "threads"}``."""
    return {
        "model": guarded("cpu model", cpu_model, ""),
        "cores": guarded("cpu cores", lambda: psutil.cpu_count(logical=False), None),
        "threads": guarded("cpu threads", lambda: psutil.cpu_count(logical=True), None),
    }


def memory_mb() -> int | None:
    """Total RAM in MiB."""
    return int(psutil.virtual_memory().total // (1024 * 1024))


def collect_device(*, hardware: bool = True) -> dict[str, Any]:
    """The device section.

    With ``hardware`` off it keeps what identifies the machine (hostname, DMI UUID, serial
    number, manufacturer and model, used to match the CI) and the operating system, and leaves
    out CPU and memory.
    """
    device: dict[str, Any] = {
        "hostname": clip(guarded("hostname", socket.gethostname, "")),
        "uuid": dmi("product_uuid").lower(),
        "serial_number": dmi("product_serial"),
        "manufacturer": dmi("sys_vendor"),
        "model": dmi("product_name"),
        "os": guarded("os", operating_system, {"name": "", "version": "", "kernel": ""}),
    }
    if hardware:
        device["cpu"] = guarded("cpu", cpu, {"model": "", "cores": None, "threads": None})
        device["memory_mb"] = guarded("memory", memory_mb, None)
    return device
