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


def _refuse(request, status: int, detail: str):
    """A JSON answer under /api/, a plain one elsewhere."""
    from django.http import HttpResponse, JsonResponse

    if request.path.startswith("/api/"):
        return JsonResponse({"detail": detail}, status=status)
    return HttpResponse(detail, status=status, content_type="text/plain; charset=utf-8")


class InputGuardMiddleware:
    """Refuse, before any view runs, input no view should have to think about.

    - An API body whose Content-Length is above `API_MAX_BODY_BYTES`: a JSON 413 at once,
      without reading it (the JSON parser enforces the same limit on what it reads).
    - A NUL character in a query parameter or a form field (names or values): 400. PostgreSQL
      cannot store or compare it, so it reached the database as a 500 (`?software_q=%00`).
      Percent-decoding replaces invalid UTF-8, so lone surrogates cannot arrive this way;
      JSON bodies are checked by itsm.parsers.SafeJSONParser.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return _refuse(request, 400, "Invalid Content-Length header.")
            limit = settings.API_MAX_BODY_BYTES
            if length > limit:
                return _refuse(request, 413, f"The request body is larger than {limit} bytes.")
        bad = _nul_field(request.GET)
        if bad is None and request.method == "POST" and _is_form(request):
            from django.core.exceptions import RequestDataTooBig

            try:
                bad = _nul_field(request.POST)
            except RequestDataTooBig:
                return _refuse(request, 413, "The request body is too large.")
        if bad is not None:
            return _refuse(request, 400, f"{bad}: NUL characters are not allowed.")
        return self.get_response(request)


def _is_form(request) -> bool:
    content_type = request.META.get("CONTENT_TYPE", "")
    return content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))


def _nul_field(data) -> str | None:
    """The name of the first parameter whose name or a value holds a NUL character."""
    for name, values in data.lists():
        if "\x00" in name:
            return repr(name.replace("\x00", "\\x00"))
        for value in values:
            if isinstance(value, str) and "\x00" in value:
                return name
    return None
