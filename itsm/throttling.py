"""DRF throttles that identify anonymous clients by `itsm.client_ip.client_ip`.

DRF's own `get_ident` trusts `X-Forwarded-For` by a proxy *count* (NUM_PROXIES), whatever the
peer; ours believes the header only from a configured proxy (TRUSTED_PROXIES).
"""

from __future__ import annotations

from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle

from .client_ip import client_ip


class ClientIPMixin:
    """Identify the client by its address as `client_ip` works it out."""

    def get_ident(self, request) -> str:
        return client_ip(request) or "unknown"


class ClientAnonRateThrottle(ClientIPMixin, AnonRateThrottle):
    """Anonymous requests, per client address."""


class ClientUserRateThrottle(ClientIPMixin, UserRateThrottle):
    """Authenticated requests per user; anonymous ones per client address."""


class FailureRateThrottle(ClientIPMixin, SimpleRateThrottle):
    """Counts only failures, per client address.

    `allow_request` refuses a client that reached the limit of failures in the window; a view
    calls `record_failure(request)` when an attempt fails. Successful attempts are free, so
    thousands of machines behind one NAT address can all succeed.
    """

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        self.history = self.cache.get(self.key, [])
        self.now = self.timer()
        while self.history and self.history[-1] <= self.now - self.duration:
            self.history.pop()
        if len(self.history) >= self.num_requests:
            return self.throttle_failure()
        return True

    def record_failure(self, request, view=None) -> None:
        """Count one failed attempt of this client."""
        if self.rate is None:
            return
        key = self.get_cache_key(request, view)
        now = self.timer()
        history = [t for t in self.cache.get(key, []) if t > now - self.duration]
        history.insert(0, now)
        self.cache.set(key, history, self.duration)
