"""Pages that belong to no single process: login, dashboard, health check, error pages."""

from __future__ import annotations

import logging

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import (
    HttpResponse,
    HttpResponsePermanentRedirect,
    HttpResponseServerError,
    JsonResponse,
)
from django.shortcuts import render
from django.template import loader
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import requires_csrf_token
from django.views.decorators.http import require_GET

from .registry import dashboard_cards

logger = logging.getLogger(__name__)


class LoginView(auth_views.LoginView):
    """Django's login view: it rotates the session key on login (session fixation)."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True


def home(request):
    """The dashboard: the cards the apps registered (`itsm.registry.dashboard_cards`, "home")."""
    cards = dashboard_cards.collect("home", request=request)
    return render(request, "home.html", {"cards": cards})


@login_not_required
@never_cache
@require_GET
def healthz(request):
    """Liveness and database check for load balancers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


@login_not_required
@require_GET
def favicon(request):
    """Browsers ask for /favicon.ico whatever the page links: send them to the static one."""
    return HttpResponsePermanentRedirect(static("favicon.ico"))


# --- error pages (handler403/404/500 in itsm/urls.py) ---------------------------------------


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


@requires_csrf_token
def permission_denied(request, exception=None):
    """403 with the navigation, and the role that would be needed when the view said so
    (`itsm.permissions.RoleRequired`)."""
    context = {
        "message": str(exception or ""),
        "roles": getattr(exception, "roles", None) or [],
        "permissions": getattr(exception, "perms", None) or [],
    }
    return render(request, "403.html", context, status=403)


@requires_csrf_token
def page_not_found(request, exception=None):
    """404 with the navigation; JSON under /api/ (the API answers JSON, always)."""
    if _is_api(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    return render(request, "404.html", {"request_path": request.path}, status=404)


@requires_csrf_token
def server_error(request):
    """500: rendered without the request's context (the error may come from it: a broken
    database or session), so the page needs nothing but URLs and static files."""
    if _is_api(request):
        return JsonResponse({"detail": "Server error."}, status=500)
    try:
        return HttpResponseServerError(loader.get_template("500.html").render())
    except Exception:  # the template itself failed: answer plain text rather than nothing
        logger.exception("The 500 page could not be rendered")
        return HttpResponse(
            "Server error: something went wrong on our side.",
            status=500,
            content_type="text/plain; charset=utf-8",
        )
