"""Keep the leases of claimed deployment steps alive while the agent works through them.

The server claims every step it hands out with a lease (``lease_seconds`` in the answer of
``GET …/deployments/``) and marks a step whose lease ran out *lost*: an idempotent one is run
again, elsewhere or later; a non-idempotent one pauses the deployment for a person. An install
can run longer than the lease, and the steps of one answer wait their turn on this machine, so
while a batch runs a thread posts a signed ``POST …/<step>/heartbeat/`` every
``heartbeat_seconds`` (sent by the server: a third of the lease) for each step of the batch
whose result is not posted yet: ``{"attempt": n, "running": true}`` for the step being run
(the server moves it to running), ``"running": false`` for the ones waiting.

A 403, 404 or 409 answer means the attempt is no longer ours (lost and retried, cancelled, backed
out): that step gets no more heartbeats, and its result will be refused; a network error is
logged and tried again at the next beat.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Any

from . import api
from .transport import RetryPolicy, ServerUnavailable, Transport

logger = logging.getLogger(__name__)

DEPLOYMENTS_PATH = "/api/v1/agents/deployments/"
#: Without an answer from the server: the lease is 300 s by default.
DEFAULT_INTERVAL = 100.0
MIN_INTERVAL = 1.0
#: The attempt is not ours any more (409) or the step not this machine's (403), or it is gone
#: (404): no more heartbeats for that step.
GIVE_UP = frozenset({403, 404, 409})


def interval_from(answer: dict[str, Any]) -> float:
    """Seconds between heartbeats: the server's ``heartbeat_seconds``, else a third of its
    ``lease_seconds``, else DEFAULT_INTERVAL (at least MIN_INTERVAL)."""
    for key, divisor in (("heartbeat_seconds", 1), ("lease_seconds", 3)):
        value = answer.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            return max(MIN_INTERVAL, float(value) / divisor)
    return DEFAULT_INTERVAL


def heartbeat_path(step: dict[str, Any]) -> str:
    """Where a step's heartbeats go (the URL the server sent, else the contract's path)."""
    return str(step.get("heartbeat_url") or f"{DEPLOYMENTS_PATH}{step.get('id')}/heartbeat/")


class Heartbeats:
    """A thread sending the heartbeats of one batch of steps (a context manager)."""

    def __init__(self, agent: Any, steps: Iterable[dict[str, Any]], interval: float) -> None:
        self.agent = agent
        self.interval = max(MIN_INTERVAL, float(interval))
        self._steps = {step.get("id"): step for step in steps}
        self._running: Any = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Its own HTTP session (requests' sessions are not shared across threads), one try
        # per beat: the next beat is the retry.
        main = agent.transport
        connect, read = main.timeout
        self.transport = Transport(
            main.server,
            verify=main.verify,
            timeout=(connect, min(read, max(5.0, self.interval))),
            retry=RetryPolicy(retries=0),
        )
        self.sent = 0
        self.refused: dict[Any, str] = {}

    def __enter__(self) -> Heartbeats:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Start beating (nothing to do for an empty batch)."""
        if self._steps and self._thread is None:
            self._thread = threading.Thread(
                target=self._loop, name="itsm-agent-heartbeat", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread (a beat in flight finishes first)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=sum(self.transport.timeout))
            self._thread = None
        self.transport.session.close()

    def running(self, step: dict[str, Any]) -> None:
        """`step` is being run now."""
        with self._lock:
            self._running = step.get("id")

    def finished(self, step: dict[str, Any]) -> None:
        """`step`'s result is posted: no more heartbeats for it."""
        with self._lock:
            self._steps.pop(step.get("id"), None)
            if self._running == step.get("id"):
                self._running = None

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.beat()

    def beat(self) -> None:
        """One heartbeat for each step of the batch still waiting for its result."""
        with self._lock:
            pending = [(step, step.get("id") == self._running) for step in self._steps.values()]
        for step, running in pending:
            if self._stop.is_set():
                return
            self._send(step, running)

    def _send(self, step: dict[str, Any], running: bool) -> None:
        body = api.encode_json({"attempt": step.get("attempt"), "running": running})
        try:
            response = self.transport.request(
                "POST", heartbeat_path(step), body=body, signer=self.agent.signer, retry=False
            )
            api._expect(response, {200}, f"heartbeat of step {step.get('id')}")
        except (api.AgentAPIError, ServerUnavailable) as exc:
            with self._lock:
                if step.get("id") not in self._steps:
                    return  # its result went in meanwhile: nothing to keep alive
            if getattr(exc, "status", None) in GIVE_UP:
                logger.warning(
                    "step %s: lease not extended, no more heartbeats: %s", step.get("id"), exc
                )
                with self._lock:
                    self._steps.pop(step.get("id"), None)
                    self.refused[step.get("id")] = str(exc)
            else:
                logger.warning(
                    "heartbeat of step %s not sent (next beat retries): %s", step.get("id"), exc
                )
        else:
            self.sent += 1
