"""What a process that serves production traffic needs from the environment.

Settings import without `SECRET_KEY` or `ALLOWED_HOSTS`, so that build and maintenance
commands (`makemigrations --check`, `collectstatic`, `migrate`, the test runner) work on a
fresh clone with nothing set. What serves or processes real data refuses to start without them
when DEBUG is off: the WSGI and ASGI applications, the Celery worker and beat, and
`manage.py check --deploy`.
"""

from __future__ import annotations

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured


def missing_settings() -> list[str]:
    """What production is missing: `SECRET_KEY` and `ALLOWED_HOSTS` when DEBUG is off."""
    if settings.DEBUG:
        return []
    missing = []
    if not settings.SECRET_KEY_CONFIGURED:
        missing.append("SECRET_KEY is required when DEBUG is off")
    if not settings.ALLOWED_HOSTS:
        missing.append("ALLOWED_HOSTS is required when DEBUG is off")
    return missing


def require_production_settings() -> None:
    """Refuse to serve with the development key or no allowed host (DEBUG off)."""
    missing = missing_settings()
    if missing:
        raise ImproperlyConfigured("; ".join(missing))


@checks.register(checks.Tags.security, deploy=True)
def check_production_settings(app_configs, **kwargs) -> list[checks.CheckMessage]:
    return [checks.Error(message, id="itsm.E001") for message in missing_settings()]
