"""Small middleware of our own."""

from __future__ import annotations

from csp.constants import HEADER
from csp.middleware import CSPMiddleware
from csp.utils import build_policy
from django.conf import settings

_PER_RESPONSE = ("_csp_config", "_csp_update", "_csp_replace", "_csp_exempt")


class CachedCSPMiddleware(CSPMiddleware):
    """django-csp, with the policy header built once per process instead of per response.

    We use no nonces, no report-only policy and no per-view policy changes, so the header is
    the same for every response; anything unusual falls back to django-csp's own handling.
    """

    _header: str | None = None

    def process_response(self, request, response):
        if (
            getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", None)
            or getattr(request, "_csp_nonce", None) is not None
            or any(getattr(response, name, None) for name in _PER_RESPONSE)
        ):
            return super().process_response(request, response)
        if HEADER not in response:
            if CachedCSPMiddleware._header is None:
                CachedCSPMiddleware._header = build_policy()
            response[HEADER] = CachedCSPMiddleware._header
        return response
