"""Periodic housekeeping of the core app."""

from __future__ import annotations

from importlib import import_module

from celery import shared_task
from django.conf import settings


@shared_task(name="itsm.clear_expired_sessions")
def clear_expired_sessions() -> None:
    """Delete expired sessions (they live in the database; see SESSION_ENGINE)."""
    import_module(settings.SESSION_ENGINE).SessionStore.clear_expired()
