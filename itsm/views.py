"""Pages that belong to no single process: login, dashboard, health checks, API tokens,
error pages."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.http import (
    Http404,
    HttpResponse,
    HttpResponsePermanentRedirect,
    HttpResponseServerError,
    JsonResponse,
)
from django.shortcuts import redirect, render
from django.template import loader
from django.templatetags.static import static
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import requires_csrf_token
from django.views.decorators.http import require_GET, require_POST

from .registry import dashboard_cards

logger = logging.getLogger(__name__)


class LoginView(auth_views.LoginView):
    """Django's login view: it rotates the session key on login (session fixation)."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True


def home(request):
    """The dashboard: the cards the apps registered (`itsm.registry.dashboard_cards`, "home").
    End users (self-service only, no staff permission) land on the portal instead."""
    user = request.user
    if user.has_perm("incidents.report_incident") and not user.has_perm("incidents.view_incident"):
        return redirect("portal:home")
    cards = dashboard_cards.collect("home", request=request)
    return render(request, "home.html", {"cards": cards})


@login_not_required
@never_cache
@require_GET
def healthz(request):
    """Liveness: the process answers. Touches no dependency (a database or Redis outage must
    not get healthy processes restarted); readiness is /readyz."""
    return JsonResponse({"status": "ok"})


@login_not_required
@never_cache
@require_GET
def readyz(request):
    """Readiness for load balancers: database, cache and (when configured) the Celery broker.

    200 with each dependency's status; 503 naming the failing ones. Only exception class
    names are shown, never addresses or credentials.
    """
    from .health import readiness

    checks = readiness()
    failing = [name for name, check in checks.items() if check["status"] == "error"]
    body = {"status": "unavailable" if failing else "ok", "checks": checks, "failing": failing}
    return JsonResponse(body, status=503 if failing else 200)


# --- My API tokens ------------------------------------------------------------------------


def api_tokens(request):
    """The user's API tokens, and a form for a new one; the key appears once, in the answer."""
    from django.utils.cache import add_never_cache_headers

    from . import tokens
    from .exceptions import ApplicationError
    from .forms import ApiTokenForm

    form = ApiTokenForm(request.POST if request.method == "POST" else None)
    created = None
    if form.is_bound and form.is_valid():
        try:
            key, token = tokens.api_token_create(
                actor=request.user,
                user=request.user,
                name=form.cleaned_data["name"],
                expires=form.cleaned_data["expires"],
            )
        except ApplicationError as exc:
            for field, errors in exc.extra.items():
                form.add_error(field if field in form.fields else None, errors)
            if not exc.extra:
                form.add_error(None, exc.message)
        else:
            created = {"key": key, "token": token}
            form = ApiTokenForm()
    response = render(
        request,
        "itsm/tokens.html",
        {
            "form": form,
            "tokens": tokens.tokens_of(user=request.user),
            "created": created,
            "now": timezone.now(),
        },
        status=400 if form.errors else 200,
    )
    add_never_cache_headers(response)  # a new key must not stay in any cache
    return response


@require_POST
def api_token_revoke(request, pk: int):
    """Revoke one of the user's tokens."""
    from . import tokens
    from .exceptions import ApplicationError

    try:
        tokens.api_token_revoke(actor=request.user, token_id=pk)
    except ApplicationError:
        raise Http404("No such token.") from None
    messages.success(request, "The token is revoked: it no longer works.")
    return redirect("api-tokens")


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
