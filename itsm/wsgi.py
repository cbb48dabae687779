"""WSGI entry point (gunicorn itsm.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "itsm.settings")
application = get_wsgi_application()

from itsm.production import require_production_settings  # noqa: E402 - needs Django set up

require_production_settings()
