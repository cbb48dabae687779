"""The incident page: header, next allowed actions, classification, CIs, related incidents,
work log and timeline. Every action is an htmx POST that re-renders the page's body (the
errors of a refused action shown inline, status 400/409); without htmx it redirects."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from itsm.exceptions import ApplicationError
from itsm.permissions import RoleRequired, permission_required

from . import services
from .choices import OPEN_STATUSES, IncidentStatus, allowed_moves
from .forms import (
    AssignForm,
    ClassificationForm,
    EscalateForm,
    LinkForm,
    ReasonForm,
    ResolveForm,
    WorklogForm,
    priority_matrix_json,
)
from .models import Incident
from .selectors import incident_categories, incident_timeline
from .ui_selectors import incident_cis, related_incidents
from .views import get_visible, ui_context

#: action → (label, permission, form class or None).
ACTIONS: dict[str, tuple[str, str, type | None]] = {
    "take": ("Assign to me", "incidents.change_incident", None),
    "assign": ("Assign", "incidents.change_incident", AssignForm),
    "start": ("Start work", "incidents.change_incident", None),
    "hold": ("Put on hold", "incidents.change_incident", ReasonForm),
    "resume": ("Resume", "incidents.change_incident", None),
    "resolve": ("Resolve", "incidents.resolve_incident", ResolveForm),
    "close": ("Close", "incidents.resolve_incident", None),
    "reopen": ("Reopen", "incidents.change_incident", ReasonForm),
    "escalate": ("Escalate", "incidents.escalate_incident", EscalateForm),
}


def next_actions(incident: Incident, user) -> list[str]:
    """The actions the incident's status allows (the transition table) that `user` may do."""
    moves = allowed_moves(incident.status)
    names: list[str] = []
    if incident.status in OPEN_STATUSES:
        if incident.assignee_id != user.pk:
            names.append("take")
        names.append("assign")
    if IncidentStatus.IN_PROGRESS in moves:
        names.append("resume" if incident.status == IncidentStatus.ON_HOLD else "start")
    for status, name in (
        (IncidentStatus.ON_HOLD, "hold"),
        (IncidentStatus.RESOLVED, "resolve"),
        (IncidentStatus.CLOSED, "close"),
        (IncidentStatus.REOPENED, "reopen"),
    ):
        if status in moves:
            names.append(name)
    if incident.status in OPEN_STATUSES:
        names.append("escalate")
    return [name for name in names if user.has_perm(ACTIONS[name][1])]


def _page_context(request: HttpRequest, incident: Incident, **extra: Any) -> dict[str, Any]:
    actions = next_actions(incident, request.user)
    forms = extra.pop("forms", {})
    action_forms = {
        name: forms.get(name) or (ACTIONS[name][2]() if ACTIONS[name][2] else None)
        for name in actions
    }
    context = {
        "incident": incident,
        "actions": [(name, ACTIONS[name][0], action_forms[name]) for name in actions],
        "cis": incident_cis(incident),
        "related": list(related_incidents(incident)),
        "timeline": incident_timeline(incident),
        "worklog_form": forms.get("worklog") or WorklogForm(),
        "link_form": forms.get("link") or LinkForm(),
        "edit_form": forms.get("edit"),
        "can_change": request.user.has_perm("incidents.change_incident"),
        "priority_matrix": priority_matrix_json(),
    }
    return context | extra


def _respond(
    request: HttpRequest, incident: Incident, *, status: int = 200, **extra: Any
) -> HttpResponse:
    template = "incidents/_incident.html" if request.htmx else "incidents/incident_detail.html"
    return render(request, template, _page_context(request, incident, **extra), status=status)


@permission_required("incidents.view_incident")
def incident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The incident page."""
    return _respond(request, get_visible(request, pk))


def _service_call(name: str, request: HttpRequest, incident: Incident, data: dict) -> Callable:
    context = ui_context(request)
    version = incident.version
    common = {"context": context, "incident": incident.pk, "expected_version": version}
    calls: dict[str, Callable[[], Any]] = {
        "take": lambda: services.incident_assign(**common, assignee=request.user),
        "assign": lambda: services.incident_assign(
            **common, assignee=data.get("assignee"), group=data.get("group"), note=data["note"]
        ),
        "start": lambda: services.incident_start(**common),
        "hold": lambda: services.incident_hold(**common, reason=data["reason"]),
        "resume": lambda: services.incident_resume(**common),
        "resolve": lambda: services.incident_resolve(
            **common,
            resolution_method=data["resolution_method"],
            resolution=data["resolution"],
        ),
        "close": lambda: services.incident_close(**common),
        "reopen": lambda: services.incident_reopen(**common, reason=data["reason"]),
        "escalate": lambda: services.incident_escalate(
            **common,
            reason=data["reason"],
            group=data.get("group"),
            raise_priority=data.get("raise_priority", False),
        ),
    }
    return calls[name]


@require_POST
@permission_required("incidents.view_incident")
def incident_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Run one workflow action through its service. A move the status does not allow, or
    bad input, is shown inline (400; 409 when someone else changed the incident first) and
    changes nothing."""
    if action not in ACTIONS:
        from django.http import Http404

        raise Http404
    label, permission, form_class = ACTIONS[action]
    if not request.user.has_perm(permission):
        raise RoleRequired([permission])
    incident = get_visible(request, pk)
    form = form_class(request.POST) if form_class else None
    if form is not None and not form.is_valid():
        return _respond(
            request, incident, status=400, forms={action: form}, failed=action, error=label
        )
    if request.POST.get("version", "").isdigit():
        incident.version = int(request.POST["version"])
    try:
        _service_call(action, request, incident, form.cleaned_data if form else {})()
    except ApplicationError as exc:
        fresh = get_visible(request, pk)
        if form is not None:
            form.add_error(None, exc.message)
        return _respond(
            request,
            fresh,
            status=exc.status_code,
            forms={action: form} if form is not None else {},
            failed=action,
            error=exc.message,
        )
    fresh = get_visible(request, pk)
    if not request.htmx:
        messages.success(request, f"{fresh.number}: {label.lower()} done.")
        return redirect("incidents:detail", pk=pk)
    return _respond(request, fresh, done=f"{label}: done.")


@permission_required("incidents.change_incident")
def incident_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Edit the classification and CIs with the version the form was read at: a stale form
    is refused (409) with a message, and what was typed stays in the form."""
    incident = get_visible(request, pk)
    if request.method != "POST":
        form = ClassificationForm(
            initial={
                "title": incident.title,
                "category": incident.category,
                "cause": incident.cause,
                "severity": incident.severity,
                "impact": incident.impact,
                "urgency": incident.urgency,
                "cis": [ci.pk for ci in incident.cis.all()],
                "version": incident.version,
            }
        )
        return _respond(request, incident, forms={"edit": form}, categories=incident_categories())
    form = ClassificationForm(request.POST)
    if not form.is_valid():
        return _respond(request, incident, status=400, forms={"edit": form}, error="Edit")
    data = form.cleaned_data
    try:
        services.incident_update(
            context=ui_context(request),
            incident=incident.pk,
            data={
                "title": data["title"],
                "category": data["category"],
                "cause": data["cause"],
                "severity": data["severity"],
                "impact": data["impact"],
                "urgency": data["urgency"],
                "cis": list(data["cis"]),
            },
            expected_version=data["version"],
        )
    except ApplicationError as exc:
        form.add_error(None, _stale(exc))
        fresh = get_visible(request, pk)
        return _respond(request, fresh, status=exc.status_code, forms={"edit": form})
    if not request.htmx:
        messages.success(request, "Classification saved.")
        return redirect("incidents:detail", pk=pk)
    return _respond(request, get_visible(request, pk), done="Classification saved.")


def _stale(exc: ApplicationError) -> str:
    if exc.status_code == 409:
        return (
            "Someone changed this incident after you opened the form: your changes are still "
            "below; check the page and save again."
        )
    return exc.message


@require_POST
@permission_required("incidents.change_incident")
def worklog_add(request: HttpRequest, pk: int) -> HttpResponse:
    """Add a work-log note (internal or public, with the minutes spent)."""
    incident = get_visible(request, pk)
    form = WorklogForm(request.POST)
    if form.is_valid():
        try:
            services.worklog_add(
                context=ui_context(request),
                incident=incident.pk,
                note=form.cleaned_data["note"],
                minutes=form.cleaned_data["minutes"] or 0,
                public=form.cleaned_data["public"],
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            if not request.htmx:
                return redirect("incidents:detail", pk=pk)
            return _respond(request, get_visible(request, pk), done="Note added.")
    return _respond(request, incident, status=400, forms={"worklog": form})


@require_POST
@permission_required("incidents.change_incident")
def incident_link(request: HttpRequest, pk: int) -> HttpResponse:
    """Link a related incident by its number."""
    incident = get_visible(request, pk)
    form = LinkForm(request.POST)
    if form.is_valid():
        number = form.cleaned_data["number"].strip().upper()
        other = Incident.objects.filter(number=number).only("pk").first()
        if other is None:
            form.add_error("number", f"No incident {number}.")
        else:
            try:
                services.incident_link(
                    context=ui_context(request), incident=incident.pk, related=other.pk
                )
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                if not request.htmx:
                    return redirect("incidents:detail", pk=pk)
                return _respond(request, get_visible(request, pk), done=f"Linked to {number}.")
    return _respond(request, incident, status=400, forms={"link": form})
