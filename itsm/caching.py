"""Shared-cache helpers: generation counters that invalidate cached reads across processes.

Caching is on only when the cache is shared by every process (`REDIS_URL`) and reachable: a
per-process memory cache could not see another process's invalidation, and would serve stale
data.
Generations are read once per request (one round trip for all of them) and kept for the
rest of the request by `RequestGenerationsMiddleware`.
"""

from __future__ import annotations

import contextvars
import time

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

NAMES = ("cmdb", "permissions", "citypes", "sla")
_request_generations: contextvars.ContextVar[dict[str, int] | None] = contextvars.ContextVar(
    "itsm_generations", default=None
)


def shared() -> bool:
    """Whether the configured cache is shared by every process (Redis)."""
    return bool(getattr(settings, "SHARED_CACHE", False))


def degraded() -> bool:
    """Whether the shared cache is unreachable and answered from process memory for now
    (see itsm/redis_cache.py)."""
    return bool(getattr(cache, "degraded", False))


def enabled() -> bool:
    """Whether cached reads may be used: the cache is shared and reachable. While Redis is
    down, the fallback is per process and would miss other processes' bumps."""
    return shared() and not degraded()


def forget_generations() -> None:
    """Drop the counters, so they restart at the clock (see `_start`): called when Redis is
    back after an outage, during which bumps went to process memory and were lost."""
    cache.delete_many([_key(n) for n in NAMES])
    memo = _request_generations.get()
    if memo is not None:
        memo.clear()


def _key(name: str) -> str:
    return f"gen:{name}"


def generation(name: str) -> int:
    """The current generation of `name`; cached values keyed by it die when it is bumped."""
    memo = _request_generations.get()
    if memo is not None and name in memo:
        return memo[name]
    values = cache.get_many([_key(n) for n in NAMES])
    current = {}
    for n in NAMES:
        value = values.get(_key(n))
        if value is None:
            value = _start(n)
        current[n] = int(value)
    if memo is not None:
        memo.update(current)
    return current[name]


def _start(name: str) -> int:
    """Start a missing counter (first use, or the cache was flushed) at the clock in
    microseconds, never at 1: a process that still remembers values from before a flush must
    not find them under a generation number that is being reused."""
    cache.add(_key(name), time.time_ns() // 1000, timeout=None)
    return int(cache.get(_key(name)) or time.time_ns() // 1000)


def bump(name: str) -> None:
    """Invalidate everything cached under `name`, once the current transaction commits."""
    if not shared():
        return

    def _bump() -> None:
        try:
            cache.incr(_key(name))
        except ValueError:
            _start(name)
        memo = _request_generations.get()
        if memo is not None:
            memo.pop(name, None)

    transaction.on_commit(_bump)


class RequestGenerationsMiddleware:
    """Read the generations at most once per request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _request_generations.set({})
        try:
            return self.get_response(request)
        finally:
            _request_generations.reset(token)
