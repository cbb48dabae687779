"""Small middleware of our own."""

from __future__ import annotations

import re
import uuid

from csp.constants import HEADER
from csp.middleware import CSPMiddleware
from csp.utils import build_policy
from django.conf import settings

from .audit import request_id_var

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


#: An incoming X-Request-ID is kept if it looks like an id (a proxy's or a client's).
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class RequestIDMiddleware:
    """Give every request an id: the `X-Request-ID` it came with (when well-formed), else a
    new UUID. The id is set in the context that `itsm.audit.ChangeContext` reads, so every
    audit entry written while serving the request carries it, and echoed in the response."""

    header = "X-Request-ID"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get(self.header, "")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response[self.header] = request_id
        return response
