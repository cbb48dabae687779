"""Application errors raised by services, and the API exception handler that shapes them.

Services raise `ApplicationError` (400), `ConflictError` (409) or `PermissionDeniedError` (403);
views never repeat business rules, they only translate these into HTTP answers.
"""

from __future__ import annotations

import itertools
import logging
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from django.db.models import ProtectedError, RestrictedError
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)


class ApplicationError(Exception):
    """A business rule refused the action (answered 400)."""

    status_code = 400

    def __init__(self, message: str, extra: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.extra = extra or {}


class ConflictError(ApplicationError):
    """The record changed since the caller read it, or its state conflicts (answered 409)."""

    status_code = 409


class PermissionDeniedError(ApplicationError):
    """The actor may not do this (answered 403)."""

    status_code = 403


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF exception handler that also understands service and model validation errors."""
    if isinstance(exc, ApplicationError):
        data: dict[str, Any] = {"detail": exc.message}
        data.update(exc.extra)
        return Response(data, status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        exc = drf_exceptions.ValidationError(detail=detail)
    elif isinstance(exc, PermissionDenied):
        exc = drf_exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        return Response({"detail": "The request body is too large."}, status=413)
    elif isinstance(exc, ProtectedError | RestrictedError):
        # A service should have said what still uses the record (ConflictError); this is the
        # safety net for one that did not: 409, never a 500.
        users = exc.protected_objects if isinstance(exc, ProtectedError) else exc.restricted_objects
        return Response(
            {
                "detail": "This record is still used by others; remove those uses first.",
                "used_by": [str(obj) for obj in itertools.islice(users, 20)],
            },
            status=409,
        )
    elif isinstance(exc, DataError):
        # Last line of defence: input the database refused (a value out of its range) that
        # validation let through is the client's error, not a 500. The transaction of the
        # service that tried the write was rolled back, so nothing was written.
        logger.warning("Database refused input: %s", exc)
        return Response({"detail": "The database refused a value of this request."}, status=400)
    return exception_handler(exc, context)
