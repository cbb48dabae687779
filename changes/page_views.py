"""Web pages of RFCs: the list, the create and edit forms, the RFC page and its actions
(htmx: an action swaps the RFC page's body, errors shown inline). Writes go through services.

The CAB member's page, meetings, the calendar and metrics are in `cab_views`.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from itsm.audit import ChangeContext
from itsm.choices import ChangeSource
from itsm.exceptions import ApplicationError, ConflictError, PermissionDeniedError
from itsm.permissions import permission_required

from . import selectors, services, ui_selectors
from .choices import ChangePriority, ChangeStatus, ChangeType
from .filtersets import ChangeFilterSet
from .forms import ChangeForm, CommentForm, ReviewForm, ScheduleForm
from .models import Change, ChangeAttachment, StandardChangeTemplate

PAGE_SIZE = 50
ORDERINGS = {"-created", "created", "number", "-number", "planned_start", "-planned_start",
             "priority", "status"}  # fmt: skip
EDIT_FIELDS = [name for name in ChangeForm.Meta.fields if name != "cis"]


def ui_context(request: HttpRequest, reason: str = "") -> ChangeContext:
    """Who acts, through the web UI."""
    return ChangeContext(actor=request.user, source=ChangeSource.USER, reason=reason)


def apply_errors(form, exc: ApplicationError | ValidationError) -> None:
    """A service's refusal on the form: on the fields it names, else on the whole form."""
    extra = getattr(exc, "extra", None) or {}
    if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
        extra = exc.message_dict
    placed = False
    for name, errors in extra.items():
        if name in form.fields and isinstance(errors, list | tuple):
            for error in errors:
                form.add_error(name, str(error))
            placed = True
    if not placed or getattr(exc, "message", ""):
        form.add_error(None, getattr(exc, "message", None) or str(exc))


def refusal_status(exc: ApplicationError) -> int:
    """403 for a refused permission, 409 for a stale version, else 400."""
    if isinstance(exc, PermissionDeniedError):
        return 403
    if isinstance(exc, ConflictError):
        return 409
    return 400


# --- the list -----------------------------------------------------------------------------


@permission_required("changes.view_change")
def change_list(request: HttpRequest) -> HttpResponse:
    """RFCs with search, filters (status, type, priority, mine) and pagination; htmx swaps only
    the table. A fixed number of queries whatever the page holds."""
    params = request.GET.copy()
    mine = params.pop("mine", None) == ["1"]
    params.pop("page", None)
    ordering = (params.pop("ordering", None) or ["-created"])[0]
    if ordering not in ORDERINGS:
        ordering = "-created"
    # The list shows the CIs only (the API's queryset also prefetches caused incidents).
    base = selectors.change_list_queryset().prefetch_related(None).prefetch_related("cis")
    filterset = ChangeFilterSet(params or None, queryset=base)
    if not filterset.is_bound:
        queryset = filterset.queryset
    elif filterset.is_valid():
        queryset = filterset.qs
    else:
        queryset = filterset.queryset.none()
    if mine:
        queryset = queryset.filter(originator=request.user)
    page = Paginator(queryset.order_by(ordering, "-id"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "filterset": filterset,
        "page": page,
        "query": query.urlencode(),
        "mine": mine,
        "ordering": ordering,
        "statuses": ChangeStatus.choices,
        "types": ChangeType.choices,
        "priorities": ChangePriority.choices,
        "selected": {
            "status": request.GET.getlist("status"),
            "change_type": request.GET.getlist("change_type"),
            "priority": request.GET.getlist("priority"),
        },
    }
    template = "changes/_change_table.html" if _partial(request) else "changes/change_list.html"
    return render(
        request,
        template,
        context,
        status=400 if filterset.is_bound and not filterset.is_valid() else 200,
    )


def _partial(request: HttpRequest) -> bool:
    return bool(request.htmx) and not request.htmx.boosted


# --- create and edit ----------------------------------------------------------------------


def _template_initial(request: HttpRequest) -> dict[str, Any]:
    """A standard change from the catalogue prefills the form (`?template=<id>`)."""
    pk = request.GET.get("template", "")
    if not pk.isdigit():
        return {}
    template = StandardChangeTemplate.objects.filter(pk=pk, active=True).first()
    if template is None:
        return {}
    return {
        "template": template.pk,
        "change_type": ChangeType.STANDARD,
        "title": template.name,
        "description": template.description,
        "category": template.category,
        "implementation_plan": template.implementation_plan,
        "backout_plan": template.backout_plan,
        "estimated_hours": template.estimated_hours,
    }


@permission_required("changes.add_change")
def change_create(request: HttpRequest) -> HttpResponse:
    """A new draft RFC. `?template=<id>` prefills it from the standard-change catalogue."""
    form = ChangeForm(request.POST or None, initial=_template_initial(request))
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k in EDIT_FIELDS}
        try:
            change = services.change_create(
                context=ui_context(request),
                title=data.pop("title"),
                cis=form.cleaned_data["cis"],
                **data,
            )
        except ApplicationError as exc:
            if isinstance(exc, PermissionDeniedError):
                raise PermissionDenied(exc.message) from exc
            apply_errors(form, exc)
        else:
            messages.success(request, f"Created {change.number} as a draft.")
            return redirect(change)
    return render(
        request,
        "changes/change_form.html",
        {
            "form": form,
            "change": None,
            "templates": StandardChangeTemplate.objects.filter(active=True),
        },
        status=400 if form.errors else 200,
    )


@permission_required("changes.change_change")
def change_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Edit a draft (or an RFC returned for information): originator or Change Manager."""
    change = get_object_or_404(Change, pk=pk)
    if not ui_selectors.can_edit(change, request.user):
        if change.status not in ui_selectors.EDITABLE:
            messages.error(request, "Only a draft, or an RFC returned for information, is edited.")
            return redirect(change)
        raise PermissionDenied("Only the originator or a Change Manager edits this RFC.")
    initial = {"cis": list(change.cis.all())}
    form = ChangeForm(request.POST or None, instance=change, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k in EDIT_FIELDS}
        try:
            services.change_update(
                context=ui_context(request),
                change=change,
                data=data,
                cis=form.cleaned_data["cis"],
                expected_version=_int(request.POST.get("version")),
            )
        except ApplicationError as exc:
            if isinstance(exc, PermissionDeniedError):
                raise PermissionDenied(exc.message) from exc
            apply_errors(form, exc)
        else:
            messages.success(request, f"Saved {change.number}.")
            return redirect(change)
    return render(
        request,
        "changes/change_form.html",
        {"form": form, "change": change, "templates": []},
        status=400 if form.errors else 200,
    )


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


# --- the RFC page -------------------------------------------------------------------------


def detail_context(request: HttpRequest, change: Change, **forms: Any) -> dict[str, Any]:
    """Everything the RFC page shows; `forms` are bound forms of a refused action."""
    user = request.user
    actions = ui_selectors.allowed_actions(change, user)
    voter_ids = selectors.eligible_voter_ids(change)
    impact = selectors.change_impact(change)
    context = {
        "change": change,
        "cis": change.cis.select_related("ci_type"),
        "impact": impact,
        "votes": selectors.votes_of_round(change),
        "earlier_votes": change.votes.exclude(round=change.vote_round).select_related("voter"),
        "conflicts": selectors.conflicts_for(change),
        "log": selectors.change_log(change)[:200],
        "actions": actions,
        "can_edit": ui_selectors.can_edit(change, user),
        "can_vote": ui_selectors.can_vote(change, user, voter_ids),
        "can_refresh": user.has_perm("changes.change_change"),
        "comment_form": forms.get("comment_form") or CommentForm(),
        "schedule_form": forms.get("schedule_form")
        or ScheduleForm(initial={"start": change.planned_start, "end": change.planned_end}),
        "action_error": forms.get("action_error"),
        "failed_action": forms.get("failed_action"),
        "attachments": change.attachments.all(),
        "can_attach": ui_selectors.can_edit(change, user)
        or (
            change.status not in ui_selectors.FINISHED
            and user.has_perm("changes.change_change")
            and (user.pk == change.originator_id or user.has_perm("changes.manage_change"))
        ),
        "attach_error": forms.get("attach_error"),
    }
    if "review" in actions:
        suspected = selectors.suspected_incidents(change)
        context["review_form"] = forms.get("review_form") or ReviewForm(
            suspected=suspected, initial={"incidents": list(suspected)}
        )
    return context


@permission_required("changes.view_change")
def change_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The RFC page: fields, plans, impact set, risk with reasons, votes, conflicts, change log
    and the next allowed actions."""
    change = get_object_or_404(
        Change.objects.select_related("originator", "template", "approval_body", "implementer"),
        pk=pk,
    )
    return render(request, "changes/change_detail.html", detail_context(request, change))


def _respond(request: HttpRequest, change: Change, status: int = 200, **forms: Any) -> HttpResponse:
    """After an action: the page body for htmx, else the page (or a redirect on success)."""
    change = Change.objects.select_related(
        "originator", "template", "approval_body", "implementer"
    ).get(pk=change.pk)
    context = detail_context(request, change, **forms)
    if _partial(request):
        return render(request, "changes/_change_body.html", context, status=status)
    if status == 200:
        return redirect(change)
    return render(request, "changes/change_detail.html", context, status=status)


@require_POST
@permission_required("changes.view_change")
def change_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """One workflow move (submit, resubmit, schedule, implement, review, close, cancel) or an
    impact refresh. A refused move answers 400/403/409 with the reason in the page; nothing is
    changed."""
    change = get_object_or_404(Change, pk=pk)
    context = ui_context(request)
    comment_form = CommentForm(request.POST)
    comment = comment_form.data.get("comment", "").strip()[:2000]
    forms: dict[str, Any] = {"failed_action": action}
    try:
        if action == "submit":
            services.change_submit(context=context, change=change)
        elif action == "resubmit":
            services.change_resubmit(context=context, change=change, comment=comment)
        elif action == "implement":
            services.change_implement(context=context, change=change, note=comment)
        elif action == "close":
            services.change_close(context=context, change=change, note=comment)
        elif action == "cancel":
            services.change_cancel(context=context, change=change, reason=comment)
        elif action == "refresh-impact":
            services.change_impact_refresh(context=context, change=change)
        elif action == "schedule":
            form = ScheduleForm(request.POST)
            forms["schedule_form"] = form
            if not form.is_valid():
                return _respond(request, change, 400, **forms)
            services.change_schedule(
                context=context,
                change=change,
                start=form.cleaned_data["start"],
                end=form.cleaned_data["end"],
                override_reason=form.cleaned_data["override_reason"],
            )
        elif action == "review":
            form = ReviewForm(request.POST, suspected=selectors.suspected_incidents(change))
            forms["review_form"] = form
            if not form.is_valid():
                return _respond(request, change, 400, **forms)
            incidents = list(form.cleaned_data["incidents"]) + form.cleaned_data["other_incidents"]
            services.change_review(
                context=context,
                change=change,
                outcome=form.cleaned_data["outcome"],
                notes=form.cleaned_data["notes"],
                incidents=incidents,
            )
        else:
            return HttpResponse("Unknown action.", status=404)
    except ApplicationError as exc:
        form = forms.get("schedule_form") or forms.get("review_form")
        if form is not None:
            apply_errors(form, exc)
        else:
            forms["action_error"] = _describe(exc)
        return _respond(request, change, refusal_status(exc), **forms)
    if not _partial(request):
        messages.success(request, "Done.")
    return _respond(request, change)


def _describe(exc: ApplicationError) -> str:
    """The refusal and, when the service named fields, what is wrong with each."""
    details = []
    for name, errors in (exc.extra or {}).items():
        if isinstance(errors, list) and errors and isinstance(errors[0], str):
            details.append(f"{name.replace('_', ' ')}: {' '.join(errors)}")
    return " ".join([exc.message, *details])


@require_GET
@permission_required("changes.view_change")
def schedule_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """What a window would clash with (htmx, while the scheduler types the window)."""
    change = get_object_or_404(Change, pk=pk)
    form = ScheduleForm(request.GET)
    found = None
    if form.is_valid():
        found = selectors.conflicts_for(
            change, form.cleaned_data["start"], form.cleaned_data["end"]
        )
    return render(request, "changes/_schedule_preview.html", {"found": found, "form": form})


@require_GET
@permission_required("changes.view_change")
def template_prefill(request: HttpRequest) -> JsonResponse:
    """The catalogue template's fields as JSON (the form's prefill when a template is picked)."""
    initial = _template_initial(request)
    if not initial:
        return JsonResponse({"error": "No such active template."}, status=404)
    initial["estimated_hours"] = (
        str(initial["estimated_hours"]) if initial["estimated_hours"] is not None else ""
    )
    return JsonResponse(initial)


# --- attachments --------------------------------------------------------------------------


@require_POST
@permission_required("changes.change_change")
def attachment_add(request: HttpRequest, pk: int) -> HttpResponse:
    """Attach a file to the RFC (originator or Change Manager, RFC not finished)."""
    change = get_object_or_404(Change, pk=pk)
    upload = request.FILES.get("file")
    forms: dict[str, Any] = {"failed_action": "attach"}
    if upload is None:
        forms["attach_error"] = "Choose a file."
        return _respond(request, change, 400, **forms)
    try:
        services.change_attach(
            context=ui_context(request),
            change=change,
            file=upload,
            name=request.POST.get("name", "").strip(),
        )
    except ApplicationError as exc:
        forms["attach_error"] = exc.message
        return _respond(request, change, refusal_status(exc), **forms)
    return _respond(request, change)


@require_GET
@permission_required("changes.view_change")
def attachment_download(request: HttpRequest, pk: int, attachment_pk: int) -> HttpResponse:
    """An attachment, for those who may read RFCs (never served from a public media URL)."""
    attachment = get_object_or_404(ChangeAttachment, pk=attachment_pk, change_id=pk)
    return FileResponse(attachment.file.open("rb"), as_attachment=True, filename=attachment.name)
