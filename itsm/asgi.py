"""ASGI entry point."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "itsm.settings")
application = get_asgi_application()

from itsm.production import require_production_settings  # noqa: E402 - needs Django set up

require_production_settings()
