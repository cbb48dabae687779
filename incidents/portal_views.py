"""The self-service portal of end users: report a problem in plain words with one of their
devices, follow their own tickets (another's is a 404), comment, confirm or reopen a
resolution, read the published known errors. Writes go through `incidents.services`."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from cmdb.history import ChangeContext
from itsm.choices import ChangeSource
from itsm.exceptions import ApplicationError
from itsm.permissions import permission_required

from . import services
from .choices import Level, Severity, Source
from .forms import CommentForm, PortalReopenForm, PortalReportForm
from .models import Incident
from .selectors import incident_timeline, user_devices
from .ui_selectors import public_comments

PERMISSION = "incidents.report_incident"
PAGE_SIZE = 25


def _context(request: HttpRequest) -> ChangeContext:
    return ChangeContext(actor=request.user, source=ChangeSource.USER)


def my_tickets(request: HttpRequest) -> QuerySet[Incident]:
    """The user's own tickets (the portal never shows another's, whatever the user's role)."""
    return Incident.objects.filter(caller=request.user).order_by("-created", "-id")


@permission_required(PERMISSION)
def home(request: HttpRequest) -> HttpResponse:
    """ "Report a problem" and the user's open tickets."""
    devices = user_devices(request.user)
    form = PortalReportForm(request.POST or None, devices=devices)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            incident = services.incident_open(
                context=_context(request),
                title=data["title"],
                description=data["description"],
                urgency=data["urgency"],
                impact=Level.LOW,
                severity=Severity.MODERATE,
                cis=[data["device"]] if data["device"] else [],
                source=Source.PORTAL,
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(
                request, f"Thank you: your ticket {incident.number} is with the service desk."
            )
            return redirect("portal:ticket", pk=incident.pk)
    recent = list(my_tickets(request).select_related("assignee")[:5])
    return render(
        request,
        "portal/home.html",
        {"form": form, "recent": recent, "has_devices": devices.exists()},
        status=400 if request.method == "POST" else 200,
    )


@permission_required(PERMISSION)
def ticket_list(request: HttpRequest) -> HttpResponse:
    """My tickets, newest first, paginated, searchable by number or title."""
    queryset = my_tickets(request)
    q = request.GET.get("q", "").strip()[:100]
    if q:
        from django.db.models import Q

        queryset = queryset.filter(Q(number__iexact=q) | Q(title__icontains=q))
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request, "portal/ticket_list.html", {"page": page, "q": q, "query": query.urlencode()}
    )


def _ticket_page(request: HttpRequest, incident: Incident, *, status: int = 200, **extra):
    context = {
        "incident": incident,
        "comments": list(public_comments(incident)),
        "timeline": incident_timeline(incident, public_only=True),
        "comment_form": extra.pop("comment_form", None) or CommentForm(),
        "reopen_form": extra.pop("reopen_form", None) or PortalReopenForm(),
        "cis": list(incident.cis.only("id", "name")),
    }
    template = "portal/_ticket.html" if request.htmx else "portal/ticket.html"
    return render(request, template, context | extra, status=status)


def _mine(request: HttpRequest, pk: int) -> Incident:
    return get_object_or_404(my_tickets(request), pk=pk)


@permission_required(PERMISSION)
def ticket(request: HttpRequest, pk: int) -> HttpResponse:
    """One of my tickets: status, public conversation, confirm or reopen a resolution."""
    return _ticket_page(request, _mine(request, pk))


@require_POST
@permission_required(PERMISSION)
def ticket_comment(request: HttpRequest, pk: int) -> HttpResponse:
    """Add a public comment to one of my tickets."""
    incident = _mine(request, pk)
    form = CommentForm(request.POST)
    if form.is_valid():
        try:
            services.worklog_add(
                context=_context(request),
                incident=incident.pk,
                note=form.cleaned_data["note"],
                public=True,
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            if not request.htmx:
                return redirect("portal:ticket", pk=pk)
            return _ticket_page(request, _mine(request, pk), done="Comment added.")
    return _ticket_page(request, incident, status=400, comment_form=form)


@require_POST
@permission_required(PERMISSION)
def ticket_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    """Confirm the resolution of one of my tickets: it is closed."""
    incident = _mine(request, pk)
    try:
        services.incident_confirm(context=_context(request), incident=incident.pk)
    except ApplicationError as exc:
        return _ticket_page(request, incident, status=exc.status_code, error=exc.message)
    if not request.htmx:
        messages.success(request, "Thank you: the ticket is closed.")
        return redirect("portal:ticket", pk=pk)
    return _ticket_page(request, _mine(request, pk), done="Thank you: the ticket is closed.")


@require_POST
@permission_required(PERMISSION)
def ticket_reopen(request: HttpRequest, pk: int) -> HttpResponse:
    """Reopen one of my resolved tickets, saying what is still wrong."""
    incident = _mine(request, pk)
    form = PortalReopenForm(request.POST)
    if form.is_valid():
        try:
            services.incident_reopen(
                context=_context(request), incident=incident.pk, reason=form.cleaned_data["reason"]
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            if not request.htmx:
                return redirect("portal:ticket", pk=pk)
            return _ticket_page(request, _mine(request, pk), done="The ticket is open again.")
    return _ticket_page(request, incident, status=400, reopen_form=form)


@permission_required(PERMISSION)
def known_errors(request: HttpRequest) -> HttpResponse:
    """The published known errors, searchable (once the problems part is merged)."""
    q = request.GET.get("q", "").strip()[:200]
    page = None
    available = True
    try:
        from . import problem_selectors  # type: ignore[attr-defined]
    except ImportError:
        available = False
    if available:
        queryset = problem_selectors.known_errors_visible_to(request.user).filter(published=True)
        if q:
            queryset = problem_selectors.known_error_search(queryset, q)
        page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "portal/known_errors.html",
        {"page": page, "q": q, "available": available, "query": query.urlencode()},
    )
