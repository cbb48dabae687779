"""The ``network`` section: interfaces with their MAC, IPv4 and IPv6 addresses (no loopback)."""

from __future__ import annotations

import ipaddress
import re
import socket
from typing import Any

import psutil

from ._util import clip

MAX_INTERFACES = 256
MAX_ADDRESSES = 64
_MAC = re.compile(r"^[0-9a-f]{2}([:-][0-9a-f]{2}){5,}$", re.IGNORECASE)


def normalize_mac(value: str) -> str:
    """``AA-BB-CC-DD-EE-FF`` or ``aa:bb:…`` → ``aa:bb:cc:dd:ee:ff``; "" if not a MAC."""
    value = value.strip()
    if not _MAC.match(value):
        return ""
    mac = value.lower().replace("-", ":")
    return "" if set(mac) <= {"0", ":"} else mac


def _is_loopback(name: str, stats: Any, addresses: list[Any]) -> bool:
    flags = getattr(stats, "flags", "") or ""
    if "loopback" in flags.split(","):
        return True
    if name == "lo":
        return True
    ips = [a.address for a in addresses if a.family in (socket.AF_INET, socket.AF_INET6)]
    return bool(ips) and all(_loopback_ip(ip) for ip in ips)


def _loopback_ip(value: str) -> bool:
    try:
        return ipaddress.ip_address(value.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def collect_network() -> list[dict[str, Any]]:
    """One entry per non-loopback interface: ``{"name", "mac", "ipv4", "ipv6"}``."""
    addresses = psutil.net_if_addrs()
    try:
        stats = psutil.net_if_stats()
    except OSError:
        stats = {}
    interfaces = []
    for name in sorted(addresses)[:MAX_INTERFACES]:
        entries = addresses[name]
        if _is_loopback(name, stats.get(name), entries):
            continue
        mac, ipv4, ipv6 = "", [], []
        for entry in entries:
            if entry.family == psutil.AF_LINK:
                mac = mac or normalize_mac(entry.address or "")
            elif entry.family == socket.AF_INET:
                ipv4.append(clip(entry.address, 64))
            elif entry.family == socket.AF_INET6:
                ipv6.append(clip(entry.address.split("%", 1)[0], 64))
        interfaces.append(
            {
                "name": clip(name),
                "mac": mac,
                "ipv4": ipv4[:MAX_ADDRESSES],
                "ipv6": ipv6[:MAX_ADDRESSES],
            }
        )
    return interfaces
