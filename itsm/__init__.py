"""Project package: settings, root URLs, the Celery app and small shared pieces."""

from .celery import app as celery_app

__all__ = ["celery_app"]
