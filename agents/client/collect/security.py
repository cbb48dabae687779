"""The ``security`` section: host firewall state and the SSH daemon's login settings."""

from __future__ import annotations

import glob
import re
import shutil
from pathlib import Path
from typing import Any

from ._util import clip, guarded, read_text, run_command

SSHD_CONFIG = Path("/etc/ssh/sshd_config")
UFW_CONF = Path("/etc/ufw/ufw.conf")
SSHD_DEFAULTS = {"permitrootlogin": "prohibit-password", "passwordauthentication": "yes"}
MAX_INCLUDE_DEPTH = 4
_SSHD_LINE = re.compile(r"^([A-Za-z]+)(?:\s*=\s*|\s+)(.*)$")


def _nft_input_filtering(ruleset: str) -> bool:
    """True if an input-hooked chain drops by default or holds at least one rule."""
    in_input_chain = False
    for raw in ruleset.splitlines():
        line = raw.strip()
        if line.startswith("chain "):
            in_input_chain = False
        elif line.startswith("type ") and "hook input" in line:
            in_input_chain = True
            if re.search(r"policy\s+(drop|reject)", line):
                return True
        elif line == "}":
            continue
        elif in_input_chain and line and not line.startswith(("policy", "comment", "#")):
            return True
    return False


def _iptables_input_filtering(rules: str) -> bool:
    """True if iptables' INPUT chain drops by default or holds at least one rule."""
    for line in rules.splitlines():
        if re.match(r"-P INPUT (DROP|REJECT)\b", line) or line.startswith("-A INPUT "):
            return True
    return False


def firewall() -> tuple[bool | None, str | None]:
    """``(enabled, tool)``; ``(None, None)`` when no firewall could be inspected.

    Looks at ufw's configuration, then the nftables ruleset, then iptables (the last two
    need root). The first active one wins; if none is active, the first one that could be
    inspected is reported as disabled.
    """
    inspected: list[str] = []
    conf = read_text(UFW_CONF, limit=65536) if shutil.which("ufw") or UFW_CONF.exists() else None
    if conf is not None:
        if re.search(r"^\s*ENABLED\s*=\s*yes\s*$", conf, re.MULTILINE | re.IGNORECASE):
            return True, "ufw"
        inspected.append("ufw")
    ruleset = run_command(["nft", "list", "ruleset"], timeout=10)
    if ruleset is not None:
        if _nft_input_filtering(ruleset):
            return True, "nftables"
        inspected.append("nftables")
    rules = run_command(["iptables", "-S"], timeout=10)
    if rules is not None:
        if _iptables_input_filtering(rules):
            return True, "iptables"
        inspected.append("iptables")
    if inspected:
        return False, inspected[0]
    return None, None


def _sshd_options(
    path: Path, options: dict[str, str], depth: int = 0, base: Path | None = None
) -> bool:
    """Read sshd_config-style ``path`` into ``options`` (first value wins, like sshd).

    Follows ``Include``; stops at the first ``Match`` block of a file. False if unreadable.
    """
    text = read_text(path, limit=1 << 20)
    if text is None:
        return False
    base = base or path.parent
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _SSHD_LINE.match(line)
        if not match:
            continue
        keyword, value = match.group(1).lower(), match.group(2).strip()
        if keyword == "match":
            break
        if keyword == "include" and depth < MAX_INCLUDE_DEPTH:
            for pattern in value.split():
                full = pattern if pattern.startswith("/") else str(base / pattern)
                for included in sorted(glob.glob(full)):
                    _sshd_options(Path(included), options, depth + 1, base)
            continue
        options.setdefault(keyword, value.lower())
    return True


def ssh_settings(path: Path = SSHD_CONFIG) -> dict[str, Any]:
    """``{"permit_root_login": str|None, "password_authentication": bool|None}``.

    Settings missing from a readable file get sshd's defaults; an unreadable file gives None.
    """
    options: dict[str, str] = {}
    if not _sshd_options(path, options):
        return {"permit_root_login": None, "password_authentication": None}
    merged = {**SSHD_DEFAULTS, **options}
    return {
        "permit_root_login": clip(merged["permitrootlogin"]),
        "password_authentication": merged["passwordauthentication"] == "yes",
    }


def collect_security() -> dict[str, Any]:
    """The security section; each part falls back to None on its own."""
    enabled, tool = guarded("firewall", firewall, (None, None))
    return {
        "firewall_enabled": enabled,
        "firewall": tool,
        "ssh": guarded(
            "ssh", ssh_settings, {"permit_root_login": None, "password_authentication": None}
        ),
        "pending_updates": None,
    }
