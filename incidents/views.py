"""Help-desk pages: the queues, the fast logging form, quick logs, bulk actions, saved filters
and the look-ups behind the logging form. The incident page is in `detail_views`. Writes go
through `incidents.services`."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from cmdb.history import ChangeContext
from itsm.choices import ChangeSource
from itsm.exceptions import ApplicationError
from itsm.permissions import permission_required

from . import saved_filter_services, services, ui_selectors
from .choices import Cause, IncidentStatus, Severity
from .filtersets import PRIORITIES
from .forms import IncidentForm, SavedFilterForm, priority_matrix_json
from .models import Incident
from .selectors import incident_categories, quick_log_templates

PAGE_SIZE = 25
MAX_QUERY = 100


def ui_context(request: HttpRequest, reason: str = "") -> ChangeContext:
    """Who acts, through the web UI."""
    return ChangeContext(actor=request.user, source=ChangeSource.USER, reason=reason)


def apply_errors(form, exc: ApplicationError) -> None:
    """Show a service's refusal on the form, on the fields it names where possible."""
    placed = False
    for name, errors in (exc.extra or {}).items():
        if name in form.fields and isinstance(errors, list):
            form.add_error(name, [str(e) for e in errors])
            placed = True
    if not placed or exc.message:
        form.add_error(None, exc.message)


@permission_required("incidents.view_incident")
def queue(request: HttpRequest) -> HttpResponse:
    """A queue (mine, my team's, unassigned, all) sorted by SLA urgency, with quick filters,
    search, pagination and the user's saved filters; htmx swaps only the table."""
    queue_name = request.GET.get("queue", "mine")
    if queue_name not in ui_selectors.QUEUES:
        queue_name = "mine"
    filterset, queryset = ui_selectors.queue_page_queryset(
        user=request.user, queue=queue_name, data=request.GET
    )
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    filters = query.copy()
    filters.pop("queue", None)
    context = {
        "page": page,
        "rows": list(page.object_list),
        "filterset": filterset,
        "queue": queue_name,
        "queues": ui_selectors.QUEUES,
        "query": query.urlencode(),
        "filter_query": filters.urlencode(),
        "q": request.GET.get("q", ""),
        "selected": {
            "status": request.GET.getlist("status"),
            "priority": request.GET.getlist("priority"),
            "category": request.GET.get("category", ""),
            "sla_breached": request.GET.get("sla_breached", ""),
        },
        "statuses": IncidentStatus.choices,
        "priorities": PRIORITIES,
        "problem_manager": request.user.has_perm("incidents.add_problem"),
    }
    if request.htmx and request.htmx.target == "queue-table":
        return render(request, "incidents/_queue_table.html", context)
    context |= {
        "saved_filters": list(ui_selectors.saved_filters(request.user)),
        "save_form": SavedFilterForm(initial={"query": query.urlencode()}),
        "templates": list(quick_log_templates()),
    }
    return render(request, "incidents/queue.html", context)


@require_GET
@permission_required("incidents.view_incident")
def queue_counts(request: HttpRequest) -> HttpResponse:
    """htmx: the number of open incidents in each queue of the user (loaded after the queue
    page, so the rows never wait for the counts)."""
    return render(
        request,
        "incidents/_queue_counts.html",
        {"counts": ui_selectors.queue_counts(request.user), "queues": ui_selectors.QUEUES},
    )


@permission_required("incidents.add_incident")
def incident_create(request: HttpRequest) -> HttpResponse:
    """The fast logging form: title with known errors suggested, caller, CIs as you type,
    classification with the priority shown live, assignment."""
    form = IncidentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            incident = services.incident_open(
                context=ui_context(request),
                title=data["title"],
                description=data["description"],
                severity=data["severity"],
                impact=data["impact"],
                urgency=data["urgency"],
                category=data["category"],
                cause=data["cause"],
                cis=list(data["cis"]),
                caller=data["caller"] or request.user,
                assignee=request.user if data["assign_to_me"] else None,
                assignment_group=data["assignment_group"],
            )
        except ApplicationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"{incident.number} logged.")
            return redirect("incidents:detail", pk=incident.pk)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "incidents/incident_form.html",
        {
            "form": form,
            "templates": list(quick_log_templates()),
            "categories": incident_categories(),
            "priority_matrix": priority_matrix_json(),
        },
        status=status,
    )


@require_POST
@permission_required(("incidents.add_incident", "incidents.resolve_incident"))
def quick_log(request: HttpRequest, template_pk: int) -> HttpResponse:
    """Log and resolve a trivial incident from a template in one click (the caller may be
    named in `caller`)."""
    caller = None
    caller_id = request.POST.get("caller", "")
    if caller_id.isdigit():
        from django.contrib.auth import get_user_model

        caller = get_user_model().objects.filter(pk=int(caller_id), is_active=True).first()
    try:
        incident = services.incident_quick_log(
            context=ui_context(request), template=template_pk, caller=caller
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("incidents:new")
    messages.success(request, f"{incident.number} logged and resolved: {incident.title}.")
    target = request.POST.get("next") or reverse("incidents:detail", args=[incident.pk])
    if not target.startswith("/") or target.startswith("//"):
        target = reverse("incidents:detail", args=[incident.pk])
    return redirect(target)


@require_POST
@permission_required("incidents.change_incident")
def bulk_assign_to_me(request: HttpRequest) -> HttpResponse:
    """Assign the selected incidents to the user; refusals are listed, the rest is done."""
    ids = [int(v) for v in request.POST.getlist("incidents") if v.isdigit()][:PAGE_SIZE]
    done, refused = [], []
    for incident in Incident.objects.filter(pk__in=ids).order_by("pk"):
        try:
            services.incident_assign(
                context=ui_context(request), incident=incident.pk, assignee=request.user
            )
            done.append(incident.number)
        except ApplicationError as exc:
            refused.append(f"{incident.number}: {exc.message}")
    if done:
        messages.success(request, f"Assigned to you: {', '.join(done)}.")
    for line in refused:
        messages.error(request, line)
    if not ids:
        messages.error(request, "Select at least one incident.")
    back = request.POST.get("next", "")
    if not back.startswith("/") or back.startswith("//"):
        back = reverse("incidents:queue")
    return redirect(back)


@require_POST
@permission_required("incidents.view_incident")
def saved_filter_save(request: HttpRequest) -> HttpResponse:
    """Save the queue's current query string under a name (replacing one of that name)."""
    form = SavedFilterForm(request.POST)
    if form.is_valid():
        try:
            saved_filter_services.saved_filter_save(
                owner=request.user, name=form.cleaned_data["name"], query=form.cleaned_data["query"]
            )
            messages.success(request, f"Filter “{form.cleaned_data['name']}” saved.")
        except (ApplicationError, IntegrityError) as exc:
            messages.error(request, getattr(exc, "message", "The filter could not be saved."))
    else:
        messages.error(request, "Give the filter a name (80 characters at most).")
    return redirect(reverse("incidents:queue") + "?" + form.data.get("query", ""))


@require_POST
@permission_required("incidents.view_incident")
def saved_filter_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Delete one of the user's saved filters (another's is a 404)."""
    if not saved_filter_services.saved_filter_delete(owner=request.user, pk=pk):
        raise Http404
    messages.success(request, "Filter deleted.")
    return redirect("incidents:queue")


@require_GET
@permission_required("cmdb.view_configurationitem")
def lookup_cis(request: HttpRequest) -> JsonResponse:
    """CIs by name, host name, serial or asset tag as the user types, the caller's devices
    first (`?q=&caller=`): `{"results": [{"id", "text", "type", "hostname", "own"…}]}`."""
    terms = request.GET.get("q", "")[:MAX_QUERY].split()
    caller = request.GET.get("caller", "")
    rows = ui_selectors.ci_lookup(terms=terms, caller_id=int(caller) if caller.isdigit() else None)
    return JsonResponse({"results": rows})


@require_GET
@permission_required("incidents.view_incident")
def lookup_caller(request: HttpRequest) -> HttpResponse:
    """htmx: the chosen caller's department, job title and devices (logging form)."""
    caller = request.GET.get("caller", "")
    facts = ui_selectors.caller_facts(int(caller)) if caller.isdigit() else None
    return render(request, "incidents/_caller_card.html", {"facts": facts})


def choices_context() -> dict:
    return {"severities": Severity.choices, "causes": Cause.choices}


def get_visible(request: HttpRequest, pk: int) -> Incident:
    """The incident if the user may see it, else 404."""
    return get_object_or_404(ui_selectors.incident_page_queryset(request.user), pk=pk)
