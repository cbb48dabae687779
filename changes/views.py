"""The iCalendar feed of the change calendar. The pages are in `page_views.py` (RFCs) and
`cab_views.py` (CAB, meetings, calendar, metrics, conflicts)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .feeds import calendar_ics, user_for_token


@login_not_required
@never_cache
@require_GET
def calendar_feed(request):
    """`GET /changes/calendar.ics?token=…`: the change calendar for mail clients (the token is
    the credential; see feeds.py). 403 without a valid token."""
    user = user_for_token(request.GET.get("token", ""))
    if user is None:
        return HttpResponse(
            "A valid calendar token is needed.", status=403, content_type="text/plain"
        )
    body = calendar_ics(now=timezone.now(), host=request.get_host().split(":")[0])
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="changes.ics"'
    return response
