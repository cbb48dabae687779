"""Pages that belong to no single process: login, dashboard, health check."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


class LoginView(auth_views.LoginView):
    """Django's login view: it rotates the session key on login (session fixation)."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True


def home(request):
    from cmdb.selectors import ci_type_counts

    counts = ci_type_counts() if request.user.has_perm("cmdb.view_configurationitem") else []
    return render(request, "home.html", {"type_counts": counts})


@login_not_required
@never_cache
@require_GET
def healthz(request):
    """Liveness and database check for load balancers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
