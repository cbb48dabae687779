"""The ``events`` section: failed logins of the last 24 hours, and nearly full filesystems."""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ._util import clip, iso_utc, read_tail, run_command
from .storage import Filesystem

MAX_EVENTS = 200
WINDOW = datetime.timedelta(hours=24)
DISK_FULL_PERCENT = 90.0
AUTH_LOGS = (
    (Path("/var/log/auth.log.1"), Path("/var/log/auth.log")),  # Debian, Ubuntu
    (Path("/var/log/secure.1"), Path("/var/log/secure")),  # RHEL family
)
# sshd's own failure lines; login(1) and su(1); PAM failures of other services (sshd's PAM
# line would count the same attempt twice).
FAILED_LOGIN = re.compile(
    r"Failed (?:password|publickey|none|keyboard-interactive\S*) for"
    r"|FAILED (?:LOGIN|SU)"
    r"|pam_unix\((?!sshd)[^)]*\): authentication failure"
)
_ISO_PREFIX = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?)\s")
_BSD_PREFIX = re.compile(r"^([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d)\s")
_HEADER = re.compile(r"^\S+\s+\S+?(?:\[\d+\])?:\s*")


def parse_syslog_time(line: str, now: datetime.datetime) -> tuple[datetime.datetime, str] | None:
    """``(aware time, rest of line)`` for an RFC 3339 or BSD syslog line; None otherwise.

    BSD stamps have no year or zone: local time in the year that puts them in the past.
    """
    match = _ISO_PREFIX.match(line)
    if match:
        try:
            moment = datetime.datetime.fromisoformat(match.group(1).replace("Z", "+00:00"))
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.astimezone()
        return moment, line[match.end() :]
    match = _BSD_PREFIX.match(line)
    if not match:
        return None
    local_now = now.astimezone()
    try:
        stamp = datetime.datetime.strptime(
            f"{local_now.year} {match.group(1)}", "%Y %b %d %H:%M:%S"
        )
    except ValueError:
        return None
    moment = stamp.astimezone()  # naive → local zone
    if moment > now + datetime.timedelta(days=1):
        try:
            moment = stamp.replace(year=stamp.year - 1).astimezone()
        except ValueError:  # 29 February
            return None
    return moment, line[match.end() :]


def failed_logins_from_lines(lines: Iterable[str], now: datetime.datetime) -> list[dict[str, str]]:
    """Failed-login events within the last 24 h found in syslog-format ``lines``."""
    since = now - WINDOW
    events = []
    for line in lines:
        if not FAILED_LOGIN.search(line):
            continue
        parsed = parse_syslog_time(line, now)
        if parsed is None:
            continue
        moment, rest = parsed
        if moment < since or moment > now + datetime.timedelta(minutes=5):
            continue
        detail = _HEADER.sub("", rest, count=1) if _HEADER.match(rest) else rest
        events.append({"at": iso_utc(moment), "kind": "failed_login", "detail": clip(detail)})
    return events


def failed_logins_from_files(now: datetime.datetime) -> list[dict[str, str]] | None:
    """Events from the first readable auth log family; None if none is readable."""
    for family in AUTH_LOGS:
        texts = [read_tail(path) for path in family]
        if texts[-1] is None:
            continue
        lines = [line for text in texts if text for line in text.splitlines()]
        return failed_logins_from_lines(lines, now)
    return None


def failed_logins_from_journal(now: datetime.datetime) -> list[dict[str, str]]:
    """Events from the systemd journal (auth and authpriv facilities), if readable."""
    since = (now - WINDOW).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    output = run_command(
        [
            "journalctl",
            "--no-pager",
            "--quiet",
            "--output=json",
            f"--since={since}",
            "--lines=50000",
            "SYSLOG_FACILITY=4",
            "SYSLOG_FACILITY=10",
        ],
        timeout=30,
    )
    if not output:
        return []
    events = []
    for line in output.splitlines():
        try:
            record = json.loads(line)
            message = record.get("MESSAGE")
            micros = int(record["__REALTIME_TIMESTAMP"])
        except (ValueError, KeyError, TypeError):
            continue
        if not isinstance(message, str):
            continue
        if not FAILED_LOGIN.search(message):
            continue
        moment = datetime.datetime.fromtimestamp(micros / 1_000_000, tz=datetime.UTC)
        events.append({"at": iso_utc(moment), "kind": "failed_login", "detail": clip(message)})
    return events


def failed_logins(now: datetime.datetime) -> list[dict[str, str]]:
    """Failed logins of the last 24 h from the auth log, else the journal; [] if unreadable."""
    events = failed_logins_from_files(now)
    if events is None:
        events = failed_logins_from_journal(now)
    events.sort(key=lambda event: event["at"])
    return events


def disk_events(filesystems: Iterable[Filesystem], at: str) -> list[dict[str, Any]]:
    """A ``disk_nearly_full`` event per filesystem at or above 90 % use."""
    return [
        {
            "at": at,
            "kind": "disk_nearly_full",
            "detail": clip(
                f"{fs.mount} is {fs.percent:.0f}% full ({fs.used_mb} of {fs.size_mb} MB used)"
            ),
        }
        for fs in filesystems
        if fs.percent >= DISK_FULL_PERCENT
    ]


def combine(disk: list[dict[str, Any]], logins: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Disk events first, then the most recent failed logins, at most 200 in all."""
    disk = disk[:MAX_EVENTS]
    room = MAX_EVENTS - len(disk)
    return disk + (logins[-room:] if room else [])
