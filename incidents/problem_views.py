"""Web pages of problem management: list, create from incidents, the problem page with its
analysis and the actions allowed from its status. Writes go through problem_services."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from itsm.audit import ChangeContext, entries_for
from itsm.choices import ChangeSource
from itsm.exceptions import ApplicationError
from itsm.permissions import permission_required

from . import analysis, problem_selectors, problem_services
from .choices import OPEN_STATUSES
from .models import Incident, Problem
from .problem_choices import ProblemStatus, problem_allowed_moves
from .problem_filtersets import ProblemFilterSet
from .problem_forms import (
    CauseForm,
    LinkForm,
    ProblemEditForm,
    ProblemForm,
    PublishForm,
    ReasonForm,
    ResolveForm,
    parse_ids,
)

PAGE_SIZE = 50
ORDERINGS = {"-created", "created", "priority", "-priority", "number", "-number", "status"}


def ui_context(request: HttpRequest, reason: str = "") -> ChangeContext:
    return ChangeContext(actor=request.user, source=ChangeSource.USER, reason=reason)


def _error_text(exc: ApplicationError | ValidationError) -> str:
    return getattr(exc, "message", None) or "; ".join(getattr(exc, "messages", [str(exc)]))


@permission_required("incidents.view_problem")
def problem_list(request: HttpRequest) -> HttpResponse:
    """Problems with search, filters, sorting and pagination; htmx swaps only the table."""
    filterset = ProblemFilterSet(
        request.GET or None, queryset=problem_selectors.problem_list_queryset()
    )
    if not filterset.is_bound:
        queryset = filterset.queryset
    elif filterset.is_valid():
        queryset = filterset.qs
    else:
        queryset = filterset.queryset.none()
    ordering = request.GET.get("ordering", "-created")
    if ordering not in ORDERINGS:
        ordering = "-created"
    page = Paginator(queryset.order_by(ordering, "-id"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "filterset": filterset,
        "page": page,
        "ordering": ordering,
        "query": query.urlencode(),
        "statuses": ProblemStatus.choices,
    }
    partial = request.htmx and not request.htmx.boosted
    return render(
        request,
        "incidents/_problem_table.html" if partial else "incidents/problem_list.html",
        context,
    )


@permission_required("incidents.add_problem")
def problem_create(request: HttpRequest) -> HttpResponse:
    """Raise a problem. The incident list posts the selected incidents here (`incidents`,
    several values, or `?incidents=1,2`): without a title the form comes back prefilled."""
    try:
        preselected = parse_ids(
            request.GET.getlist("incidents") + request.POST.getlist("incidents")
        )
    except ValidationError:
        preselected = []
    incidents = list(Incident.objects.filter(pk__in=preselected).order_by("id"))
    if request.method == "POST" and "title" in request.POST:
        form = ProblemForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                problem = problem_services.problem_create(
                    context=ui_context(request),
                    title=data["title"],
                    description=data["description"],
                    priority=data["priority"],
                    incidents=data["incidents"],
                )
            except (ApplicationError, ValidationError) as exc:
                form.add_error(None, _error_text(exc))
            else:
                messages.success(request, f"Problem {problem.number} raised.")
                return redirect(problem)
    else:
        form = ProblemForm(
            initial={
                "title": incidents[0].title if incidents else "",
                "priority": min((i.priority for i in incidents), default=3),
                "incidents": ", ".join(str(i.pk) for i in incidents),
            }
        )
    return render(request, "incidents/problem_form.html", {"form": form, "incidents": incidents})


@permission_required("incidents.view_problem")
def problem_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One problem: incidents, cause, workaround, known error, analysis (loaded by htmx),
    history, and the forms of the moves allowed from its status only."""
    problem = get_object_or_404(problem_selectors.problem_detail_queryset(), pk=pk)
    incidents = list(problem.incidents.order_by("-created", "-id"))
    open_incidents = [i for i in incidents if i.status in OPEN_STATUSES]
    moves = problem_allowed_moves(problem.status)
    is_open = problem.status in (
        ProblemStatus.NEW,
        ProblemStatus.UNDER_INVESTIGATION,
        ProblemStatus.KNOWN_ERROR,
    )
    context = {
        "problem": problem,
        "incidents": incidents,
        "moves": moves,
        "can_investigate": ProblemStatus.UNDER_INVESTIGATION in moves,
        "can_publish": is_open and bool(problem.root_cause),
        "can_record_cause": is_open,
        "can_link": is_open,
        "can_resolve": ProblemStatus.RESOLVED in moves,
        "can_close": ProblemStatus.CLOSED in moves,
        "can_cancel": ProblemStatus.CANCELLED in moves,
        "cause_form": CauseForm(
            initial={"root_cause": problem.root_cause, "workaround": problem.workaround}
        ),
        "publish_form": PublishForm(initial={"symptoms": problem.description, "publish": True}),
        "resolve_form": ResolveForm(open_incidents=open_incidents),
        "link_form": LinkForm(),
        "edit_form": ProblemEditForm(
            initial={
                "title": problem.title,
                "description": problem.description,
                "priority": problem.priority,
                "owner": problem.owner_id,
            }
        ),
        "history": entries_for(problem)[:50],
    }
    return render(request, "incidents/problem_detail.html", context)


@permission_required(("incidents.view_problem", "cmdb.view_configurationitem"))
def problem_analysis(request: HttpRequest, pk: int) -> HttpResponse:
    """The ranked comparison table (htmx fragment of the problem page)."""
    problem = get_object_or_404(Problem, pk=pk)
    result = analysis.compare(affected=problem_selectors.problem_affected_cis(problem), limit=25)
    return render(request, "incidents/_problem_analysis.html", {"result": result})


def _action(
    request: HttpRequest, pk: int, form_class, run: Callable[[Problem, dict], object], done: str
) -> HttpResponse:
    """Validate the form, call the service, say what happened, back to the problem page."""
    problem = get_object_or_404(Problem, pk=pk)
    kwargs = {}
    if form_class is ResolveForm:
        kwargs["open_incidents"] = problem_services.problem_open_incidents(problem)
    form = form_class(request.POST, **kwargs) if form_class else None
    if form is not None and not form.is_valid():
        errors = "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())
        messages.error(request, f"Nothing changed: {errors}")
        return redirect(problem)
    try:
        run(problem, form.cleaned_data if form is not None else {})
    except (ApplicationError, ValidationError) as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, done)
    return redirect(problem)


@require_POST
@permission_required("incidents.change_problem")
def problem_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _action(
        request,
        pk,
        ProblemEditForm,
        lambda p, d: problem_services.problem_update(
            context=ui_context(request), problem_id=p.pk, data=d
        ),
        "Problem saved.",
    )


@require_POST
@permission_required("incidents.change_problem")
def problem_link(request: HttpRequest, pk: int) -> HttpResponse:
    return _action(
        request,
        pk,
        LinkForm,
        lambda p, d: problem_services.problem_link_incidents(
            context=ui_context(request), problem_id=p.pk, incidents=d["incidents"]
        ),
        "Incidents linked.",
    )


@require_POST
@permission_required("incidents.change_problem")
def problem_unlink(request: HttpRequest, pk: int, incident_pk: int) -> HttpResponse:
    return _action(
        request,
        pk,
        None,
        lambda p, d: problem_services.problem_link_incidents(
            context=ui_context(request), problem_id=p.pk, incidents=[], unlink=[incident_pk]
        ),
        "Incident unlinked.",
    )


@require_POST
@permission_required("incidents.change_problem")
def problem_investigate(request: HttpRequest, pk: int) -> HttpResponse:
    return _action(
        request,
        pk,
        None,
        lambda p, d: problem_services.problem_start_investigation(
            context=ui_context(request), problem_id=p.pk
        ),
        "Investigation started.",
    )


@require_POST
@permission_required("incidents.change_problem")
def problem_cause(request: HttpRequest, pk: int) -> HttpResponse:
    return _action(
        request,
        pk,
        CauseForm,
        lambda p, d: problem_services.problem_record_cause(
            context=ui_context(request), problem_id=p.pk, **d
        ),
        "Root cause recorded.",
    )


@require_POST
@permission_required(("incidents.change_problem", "incidents.add_knownerror"))
def problem_publish(request: HttpRequest, pk: int) -> HttpResponse:
    return _action(
        request,
        pk,
        PublishForm,
        lambda p, d: problem_services.problem_publish_known_error(
            context=ui_context(request), problem_id=p.pk, **d
        ),
        "Known error recorded.",
    )


@require_POST
@permission_required("incidents.change_problem")
def problem_resolve(request: HttpRequest, pk: int) -> HttpResponse:
    return _action(
        request,
        pk,
        ResolveForm,
        lambda p, d: problem_services.problem_resolve(
            context=ui_context(request),
            problem_id=p.pk,
            resolution=d["resolution"],
            resolve_incidents=bool(d["incidents"]),
            incident_ids=d["incidents"],
            resolution_method=d["resolution_method"],
        ),
        "Problem resolved.",
    )


@require_POST
@permission_required("incidents.change_problem")
def problem_close(request: HttpRequest, pk: int) -> HttpResponse:
    return _action(
        request,
        pk,
        None,
        lambda p, d: problem_services.problem_close(context=ui_context(request), problem_id=p.pk),
        "Problem closed.",
    )


@require_POST
@permission_required("incidents.change_problem")
def problem_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    return _action(
        request,
        pk,
        ReasonForm,
        lambda p, d: problem_services.problem_cancel(
            context=ui_context(request, reason=d["reason"]), problem_id=p.pk
        ),
        "Problem cancelled.",
    )
