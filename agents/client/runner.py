"""One agent cycle (policy → collect → spool → flush) and the loop that repeats it."""

from __future__ import annotations

import contextlib
import datetime
import logging
import random
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from . import api
from .collect import collect_report
from .collect._util import iso_utc
from .config import (
    AgentConfig,
    StatePaths,
    load_policy,
    load_status,
    normalize_policy,
    save_policy,
    save_status,
)
from .keys import load_private_key
from .rotation import recover_pending_rotation
from .signing import RequestSigner
from .spool import Spool
from .transport import ServerUnavailable, Transport

try:  # POSIX only; elsewhere concurrent cycles are simply not serialised
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

Collector = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass
class Agent:
    """Everything a cycle needs, built once by the CLI."""

    paths: StatePaths
    config: AgentConfig
    transport: Transport
    signer: RequestSigner
    spool: Spool


@dataclass
class FlushResult:
    """What one pass over the spool achieved."""

    sent: int = 0
    rejected: int = 0
    remaining: int = 0
    error: str = ""
    auth_failed: bool = False

    @property
    def ok(self) -> bool:
        """True when nothing is left waiting."""
        return self.remaining == 0 and not self.error


def flush_spool(spool: Spool, transport: Transport, signer: RequestSigner) -> FlushResult:
    """Send queued reports oldest first, each signed at send time.

    A 202 removes the report; a 4xx about the body (400, 409, 413, 415, 422, …; see
    `api.is_rejection`) moves it aside into the spool's rejected/ folder with the server's
    answer (logged as an error), so it does not block the reports behind it; a 401, an
    unreachable server, 5xx after the transport's retries or an unexpected answer stops the
    pass and keeps the rest, in order, for the next one.
    """
    result = FlushResult()
    for path in spool.pending():
        try:
            body = spool.read(path)
        except FileNotFoundError:
            continue  # another process delivered it
        try:
            answer = api.send_report(transport, signer, body)
        except api.Rejected as exc:
            logger.error(
                "SERVER REJECTED report %s (HTTP %s), dropping it from the spool: %s",
                path.name,
                exc.status,
                exc.detail or exc,
            )
            spool.reject(path, answer=f"HTTP {exc.status}\n{exc.detail}\n")
            result.rejected += 1
            continue
        except api.AuthError as exc:
            logger.error(
                "authentication refused (%s); reports stay queued. Is the agent approved, "
                "not revoked, and its clock right?",
                exc,
            )
            result.error, result.auth_failed = str(exc), True
            break
        except (ServerUnavailable, api.UnexpectedResponse) as exc:
            logger.warning("server unavailable, reports stay queued: %s", exc)
            result.error = str(exc)
            break
        spool.remove(path)
        result.sent += 1
        logger.info("delivered %s as report %s", path.name, answer.get("report_id", "?"))
    result.remaining = len(spool)
    return result


def refresh_policy(agent: Agent) -> dict[str, Any]:
    """Fetch the policy (one attempt); fall back to the last known one on any failure."""
    try:
        raw = api.fetch_policy(agent.transport, agent.signer, retry=False)
    except (api.AgentAPIError, ServerUnavailable) as exc:
        logger.warning("could not fetch the policy, using the last known one: %s", exc)
        return load_policy(agent.paths)
    policy = normalize_policy(raw)
    save_policy(agent.paths, policy)
    if agent.config.status != "active":
        agent.config.status = "active"
        agent.config.save(agent.paths)
    return policy


@contextlib.contextmanager
def cycle_lock(paths: StatePaths) -> Iterator[None]:
    """Serialise cycles of several agent processes sharing one state directory."""
    if fcntl is None:
        yield
        return
    paths.create()
    with open(paths.lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run_cycle(agent: Agent, *, collector: Collector = collect_report) -> FlushResult:
    """Policy, collect, queue the report, deliver the queue. Returns the flush outcome."""
    with cycle_lock(agent.paths):
        policy = refresh_policy(agent)
        report = collector(policy)
        result = _queue_and_flush(agent, [api.encode_json(report)])
        _record(agent, result, policy)
    return result


def deliver(agent: Agent, bodies: list[bytes]) -> FlushResult:
    """Queue ready-made report bodies (``itsm-agent send``) and deliver the queue."""
    with cycle_lock(agent.paths):
        return _queue_and_flush(agent, bodies)


def _queue_and_flush(agent: Agent, bodies: list[bytes]) -> FlushResult:
    """Spool `bodies`, then deliver the spool; a key rotation whose answer was lost is
    recovered and the delivery retried once with the new key. Call under `cycle_lock`."""
    for body in bodies:
        agent.spool.put(body)
    result = flush_spool(agent.spool, agent.transport, agent.signer)
    if result.auth_failed and recover_pending_rotation(agent.paths, agent.config, agent.transport):
        agent.signer = RequestSigner(agent.config.key_id, load_private_key(agent.paths.private_key))
        result = flush_spool(agent.spool, agent.transport, agent.signer)
    return result


def _record(agent: Agent, result: FlushResult, policy: dict[str, Any]) -> None:
    now = iso_utc(datetime.datetime.now(datetime.UTC))
    status = load_status(agent.paths)
    status.update(
        last_cycle_at=now, last_result=asdict(result), interval_seconds=policy["interval_seconds"]
    )
    if result.sent:
        status["last_delivery_at"] = now
    if result.error:
        status["last_error"] = result.error
        status["last_error_at"] = now
    save_status(agent.paths, status)


def next_delay(interval: float, jitter: float, rand: Callable[[], float] = random.random) -> float:
    """``interval`` spread by ±``jitter`` (a fraction), so a fleet does not report in step."""
    jitter = min(max(jitter, 0.0), 1.0)
    return max(1.0, interval * (1 + jitter * (2 * rand() - 1)))


def run_forever(
    agent: Agent,
    *,
    interval: float | None,
    jitter: float,
    stop: threading.Event,
    collector: Collector = collect_report,
    after: Callable[[Agent], None] | None = None,
) -> None:
    """Run cycles until ``stop`` is set; the policy's interval applies unless ``interval`` is given.
    ``after`` runs after each cycle (the deployment pass)."""
    while not stop.is_set():
        try:
            run_cycle(agent, collector=collector)
            if after is not None:
                after(agent)
        except Exception:  # keep the daemon alive; the next cycle may succeed
            logger.exception("cycle failed")
        every = interval or load_policy(agent.paths)["interval_seconds"]
        delay = next_delay(every, jitter)
        logger.info("next cycle in %.0f s", delay)
        stop.wait(delay)
