"""HTTP to the server: one signed attempt at a time, retried with exponential backoff and jitter.

Connection errors (except TLS failures), timeouts, 408, 429 and 5xx are retried; every other answer is returned to the
caller, which decides what it means. Each attempt is built and signed afresh (new ``created``
and nonce), because the server refuses a nonce it has already seen.
"""

from __future__ import annotations

import email.utils
import logging
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests

from . import __version__
from .signing import RequestSigner, build_request

logger = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})


class ServerUnavailable(Exception):
    """The server could not be reached, or kept answering 5xx, after every retry."""


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: ``retries`` after the first attempt, delays capped at ``max_delay``."""

    retries: int = 4
    base_delay: float = 2.0
    max_delay: float = 120.0

    def delay(self, attempt: int, rand: float) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (0-based).

        "Equal jitter": half of the exponential step is fixed, half random, so delays grow but
        agents restarted together spread out. Never more than ``max_delay``.
        """
        step = min(self.max_delay, self.base_delay * (2**attempt))
        return step / 2 + step / 2 * rand


class Transport:
    """Talks to one server; knows its base URL, TLS settings and retry policy."""

    def __init__(
        self,
        server: str,
        *,
        verify: bool | str = True,
        timeout: tuple[float, float] = (10.0, 60.0),
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
        session: requests.Session | None = None,
    ) -> None:
        if not server.startswith(("https://", "http://")):
            raise ValueError(f"server must be an http(s) URL, got {server!r}")
        self.server = server.rstrip("/")
        self.verify = verify
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self.rand = rand
        self.session = session or requests.Session()
        self.user_agent = f"itsm-agent/{__version__}"

    def url(self, path: str) -> str:
        """Absolute URL of an API path such as ``/api/v1/agents/policy/``."""
        return self.server + "/" + path.lstrip("/")

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        signer: RequestSigner | None = None,
        retry: bool = True,
    ) -> requests.Response:
        """Send one request, retrying transient failures; return the first final answer.

        Raises :class:`ServerUnavailable` when every attempt failed to connect or got a
        retryable status.
        """
        url = self.url(path)
        attempts = self.retry.retries + 1 if retry else 1
        last_problem = ""
        for attempt in range(attempts):
            prepared = build_request(
                method, url, body=body, signer=signer, user_agent=self.user_agent
            )
            retry_after: float | None = None
            try:
                response = self._send(prepared)
            except (requests.ConnectionError, requests.Timeout) as exc:
                last_problem = describe_error(exc)
                if isinstance(exc, requests.exceptions.SSLError):
                    break  # a certificate problem does not go away by waiting
            else:
                if response.status_code not in RETRYABLE_STATUS:
                    return response
                last_problem = f"HTTP {response.status_code}"
                retry_after = _retry_after_seconds(response)
                response.close()
            if attempt + 1 >= attempts:
                break
            delay = self.retry.delay(attempt, self.rand())
            if retry_after is not None:
                delay = min(max(delay, retry_after), self.retry.max_delay)
            logger.warning(
                "%s %s failed (%s); retry %d/%d in %.1f s",
                method,
                url,
                last_problem,
                attempt + 1,
                attempts - 1,
                delay,
            )
            self.sleep(delay)
        raise ServerUnavailable(f"{method} {url}: {last_problem} after {attempt + 1} attempt(s)")

    def _send(self, prepared: requests.PreparedRequest) -> requests.Response:
        settings = self.session.merge_environment_settings(
            prepared.url, proxies={}, stream=False, verify=self.verify, cert=None
        )
        # Never follow redirects: the signature covers the method and path of this request only.
        return self.session.send(prepared, allow_redirects=False, timeout=self.timeout, **settings)


def describe_error(exc: Exception) -> str:
    """A one-line account of a connection error ("ConnectionError: [Errno 111] Connection refused")."""
    text = str(exc)
    errno = re.search(r"\[Errno -?\d+\] [^'\")\]]+", text)
    if errno:
        text = errno.group(0)
    elif "CERTIFICATE_VERIFY_FAILED" in text:
        text = "TLS certificate verification failed (see --ca-bundle)"
    return f"{type(exc).__name__}: {text[:300]}"


def _retry_after_seconds(response: requests.Response) -> float | None:
    """The Retry-After header as seconds (delta or HTTP date), if present and sensible."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def clock_skew_seconds(response: requests.Response) -> float | None:
    """How far the server's ``Date`` header is from the local clock (positive: server ahead)."""
    value = response.headers.get("Date")
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).timestamp() - time.time()
    except (TypeError, ValueError):
        return None
