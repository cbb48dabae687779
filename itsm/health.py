"""Readiness checks of the dependencies: database, cache, Celery broker (see /readyz)."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.cache import cache

from . import sql

log = logging.getLogger("itsm.health")

BROKER_TIMEOUT_SECONDS = 2


def _error(exc: BaseException) -> dict[str, Any]:
    return {"status": "error", "error": type(exc).__name__}


def check_database() -> dict[str, Any]:
    try:
        sql.ping()
    except Exception as exc:  # any failure means not ready
        log.warning("readiness: database check failed: %r", exc)
        return _error(exc)
    return {"status": "ok"}


def check_cache() -> dict[str, Any]:
    """A real round trip to the cache; with the Redis fallback, its counters too."""
    try:
        if hasattr(cache, "ping"):
            reachable = cache.ping()
            result: dict[str, Any] = {"status": "ok" if reachable else "error"}
            result.update(cache.stats())
            if not reachable:
                result["error"] = result.get("last_error") or "unreachable"
            return result
        cache.set("readyz", 1, 5)
        if cache.get("readyz") != 1:
            return {"status": "error", "error": "no round trip"}
    except Exception as exc:
        log.warning("readiness: cache check failed: %r", exc)
        return _error(exc)
    return {"status": "ok"}


def check_broker() -> dict[str, Any]:
    """Connect to the Celery broker, when one is configured (else tasks run in-process)."""
    if not getattr(settings, "CELERY_BROKER_URL", ""):
        return {"status": "not configured"}
    from .celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(
                max_retries=1, interval_start=0, interval_step=0, timeout=BROKER_TIMEOUT_SECONDS
            )
    except Exception as exc:
        log.warning("readiness: broker check failed: %r", exc)
        return _error(exc)
    return {"status": "ok"}


def readiness() -> dict[str, dict[str, Any]]:
    """Each dependency's status: `ok`, `error` (with the exception's class) or `not configured`."""
    return {"database": check_database(), "cache": check_cache(), "broker": check_broker()}
