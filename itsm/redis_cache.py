"""A Redis cache that keeps the site up when Redis is not (django-redis plus a fallback).

When a Redis call fails for want of a connection (refused, reset, timed out), the call is
answered from a per-process memory cache instead, the failure is logged (once per outage) and
counted, and Redis is left alone for `FALLBACK_RETRY_SECONDS` before the next try, so an outage
costs no connection timeout per request. Meanwhile `degraded` is true and `itsm.caching`
turns the shared caches (permissions, list pages) off: a per-process cache cannot see other
processes' invalidations, so those reads go to the database. Throttles and rate limits keep
counting, per process. Sessions never live in the cache (SESSION_ENGINE is `db`).

When Redis answers again, the `ON_RECOVERY` hook runs (settings: forget the generation counters,
so nothing cached before the outage is served after a change made during it).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import redis.exceptions
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache
from django.utils.module_loading import import_string
from django_redis.cache import RedisCache
from django_redis.exceptions import ConnectionInterrupted

log = logging.getLogger("itsm.cache")

OUTAGE_ERRORS = (
    ConnectionInterrupted,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    OSError,
)


class _Health:
    """One per Redis location and process, shared by all threads' cache instances."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.down_until = 0.0  # monotonic time; 0 = up
        self.outages = 0  # times Redis was found unreachable
        self.fallback_calls = 0  # cache calls answered by the fallback
        self.last_error = ""


_health: dict[str, _Health] = {}
_health_lock = threading.Lock()


def health_of(location: str) -> _Health:
    with _health_lock:
        return _health.setdefault(location, _Health())


class FallbackRedisCache(RedisCache):
    """django-redis `RedisCache` that falls back to process memory while Redis is down.

    OPTIONS, besides django-redis's own: `FALLBACK_RETRY_SECONDS` (5), `ON_RECOVERY` (dotted
    path of a function called without arguments when Redis is reachable again).
    """

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        options = params.get("OPTIONS", {})
        self._ignore_exceptions = False  # we handle them, with a fallback instead of a no-op
        self.retry_seconds = float(options.get("FALLBACK_RETRY_SECONDS", 5))
        self._on_recovery = options.get("ON_RECOVERY")
        self.health = health_of(str(server))
        self.fallback = LocMemCache(
            f"itsm-redis-fallback:{server}",
            {
                "TIMEOUT": params.get("TIMEOUT", 300),
                "KEY_PREFIX": params.get("KEY_PREFIX", ""),
                "VERSION": params.get("VERSION", 1),
                "OPTIONS": {"MAX_ENTRIES": int(options.get("FALLBACK_MAX_ENTRIES", 10000))},
            },
        )

    # --- state ----------------------------------------------------------------------------

    @property
    def degraded(self) -> bool:
        """True while calls are answered from the fallback (Redis was unreachable)."""
        return self.health.down_until > time.monotonic()

    def stats(self) -> dict[str, Any]:
        """Counters for health checks and logs."""
        h = self.health
        return {
            "degraded": self.degraded,
            "outages": h.outages,
            "fallback_calls": h.fallback_calls,
            "last_error": h.last_error,
        }

    def ping(self) -> bool:
        """A real round trip to Redis, whatever the state (for readiness checks)."""
        try:
            self.client.get_client(write=False).ping()
        except OUTAGE_ERRORS as exc:
            self._went_down(exc)
            return False
        self._came_up()
        return True

    def _went_down(self, exc: BaseException) -> None:
        h = self.health
        with h.lock:
            was_up = h.down_until == 0.0
            h.down_until = time.monotonic() + self.retry_seconds
            h.last_error = type(exc).__name__
            if was_up:
                h.outages += 1
        if was_up:
            log.error(
                "Redis cache unreachable (%s: %s); answering from process memory, retrying "
                "every %ss",
                type(exc).__name__,
                exc,
                self.retry_seconds,
            )

    def _came_up(self) -> None:
        h = self.health
        with h.lock:
            was_down = h.down_until != 0.0
            h.down_until = 0.0
        if was_down:
            log.warning("Redis cache reachable again after %s fallback calls", h.fallback_calls)
            if self._on_recovery:
                try:
                    import_string(self._on_recovery)()
                except Exception:  # recovery must not break the request
                    log.exception("cache ON_RECOVERY hook failed")

    def _call(self, name: str, *args, **kwargs):
        if not self.degraded:
            try:
                result = getattr(super(), name)(*args, **kwargs)
            except OUTAGE_ERRORS as exc:
                self._went_down(exc)
            else:
                if self.health.down_until:
                    self._came_up()
                return result
        with self.health.lock:
            self.health.fallback_calls += 1
        return getattr(self.fallback, name)(*args, **kwargs)

    # --- the cache API ----------------------------------------------------------------------

    def get(self, key, default=None, version=None, client=None):
        if client is not None:
            return super().get(key, default, version, client)
        return self._call("get", key, default, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None, **kwargs):
        if kwargs:
            return super().set(key, value, timeout, version, **kwargs)
        return self._call("set", key, value, timeout, version)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None, **kwargs):
        if kwargs:
            return super().add(key, value, timeout, version, **kwargs)
        return self._call("add", key, value, timeout, version)

    def delete(self, key, version=None, **kwargs):
        return self._call("delete", key, version)

    def get_many(self, keys, version=None, **kwargs):
        return self._call("get_many", keys, version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None, **kwargs):
        return self._call("set_many", data, timeout, version)

    def delete_many(self, keys, version=None, **kwargs):
        return self._call("delete_many", keys, version)

    def incr(self, key, delta=1, version=None, **kwargs):
        return self._call("incr", key, delta, version)

    def decr(self, key, delta=1, version=None, **kwargs):
        return self._call("decr", key, delta, version)

    def has_key(self, key, version=None, **kwargs):
        return self._call("has_key", key, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None, **kwargs):
        return self._call("touch", key, timeout, version)

    def clear(self):
        return self._call("clear")

    def delete_pattern(self, pattern, **kwargs):
        if not self.degraded:
            try:
                return super().delete_pattern(pattern, **kwargs)
            except OUTAGE_ERRORS as exc:
                self._went_down(exc)
        self.fallback.clear()
        return 0
