"""Where the agent keeps its state, and the small JSON files in it.

State directory layout::

    config.json        server URL, key_id, name, enrolment status, CA bundle
    private_key.pem    Ed25519 private key (PKCS#8 PEM, mode 0600)
    policy.json        last collection policy received from the server
    status.json        outcome of the last cycle (for `itsm-agent status`)
    spool/             reports waiting to be delivered, one file each
"""

from __future__ import annotations

import copy
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .files import ensure_dir, read_json, write_json

STATE_DIR_ENV = "ITSM_AGENT_STATE_DIR"
SECTIONS = ("hardware", "software", "storage", "security", "events")
MIN_INTERVAL = 60
MAX_INTERVAL = 7 * 24 * 3600
DEFAULT_POLICY: dict[str, Any] = {
    "interval_seconds": 3600,
    "collect": dict.fromkeys(SECTIONS, True),
}


def default_state_dir() -> Path:
    """``$ITSM_AGENT_STATE_DIR``, else ``/var/lib/itsm-agent`` for root, else the user's state dir."""
    env = os.environ.get(STATE_DIR_ENV)
    if env:
        return Path(env).expanduser()
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/lib/itsm-agent")
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "itsm-agent"


@dataclass(frozen=True)
class StatePaths:
    """The files of one state directory."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.json"

    @property
    def private_key(self) -> Path:
        return self.root / "private_key.pem"

    @property
    def pending_key(self) -> Path:
        """A new key during rotation, until the server confirms it."""
        return self.root / "private_key.next.pem"

    @property
    def policy(self) -> Path:
        return self.root / "policy.json"

    @property
    def status(self) -> Path:
        return self.root / "status.json"

    @property
    def spool(self) -> Path:
        return self.root / "spool"

    @property
    def lock(self) -> Path:
        return self.root / "agent.lock"

    def create(self) -> StatePaths:
        """Create the state directory (mode 0700) if needed."""
        ensure_dir(self.root, 0o700)
        return self


@dataclass
class AgentConfig:
    """What enrolment leaves behind; read by every other command."""

    server: str = ""
    key_id: str = ""
    name: str = ""
    status: str = ""
    ca_bundle: str = ""
    enrolled_at: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, paths: StatePaths) -> AgentConfig:
        """Read ``config.json``; a missing or broken file gives an empty config."""
        data = read_json(paths.config) or {}
        known = {name: str(data.pop(name) or "") for name in cls._fields() if name in data}
        return cls(**known, extra=data)

    def save(self, paths: StatePaths) -> None:
        """Write ``config.json`` atomically."""
        paths.create()
        data = {**self.extra, **{k: v for k, v in asdict(self).items() if k != "extra"}}
        write_json(paths.config, data)

    @staticmethod
    def _fields() -> tuple[str, ...]:
        return ("server", "key_id", "name", "status", "ca_bundle", "enrolled_at")


def normalize_policy(raw: Any) -> dict[str, Any]:
    """Turn whatever the server sent into a complete, bounded policy.

    Unknown keys are ignored, missing sections default to on, and the interval is clamped to
    [60 s, 7 days].
    """
    policy = copy.deepcopy(DEFAULT_POLICY)
    if not isinstance(raw, dict):
        return policy
    interval = raw.get("interval_seconds")
    if isinstance(interval, int | float) and not isinstance(interval, bool):
        policy["interval_seconds"] = int(min(max(interval, MIN_INTERVAL), MAX_INTERVAL))
    collect = raw.get("collect")
    if isinstance(collect, dict):
        for section in SECTIONS:
            if isinstance(collect.get(section), bool):
                policy["collect"][section] = collect[section]
    return policy


def load_policy(paths: StatePaths) -> dict[str, Any]:
    """The last policy received from the server, or the default one."""
    return normalize_policy(read_json(paths.policy))


def save_policy(paths: StatePaths, policy: dict[str, Any]) -> None:
    """Remember ``policy`` as the last known one."""
    paths.create()
    write_json(paths.policy, normalize_policy(policy))


def load_status(paths: StatePaths) -> dict[str, Any]:
    """The record of the last cycle (empty if none)."""
    return read_json(paths.status) or {}


def save_status(paths: StatePaths, status: dict[str, Any]) -> None:
    """Record the outcome of a cycle."""
    paths.create()
    write_json(paths.status, status)
