"""Web pages of the known-error base (list and search, detail, create and edit) and the
suggestions fragment the incident form loads while the title is typed (htmx)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from itsm.audit import entries_for
from itsm.exceptions import ApplicationError
from itsm.permissions import RoleRequired, permission_required

from . import problem_services
from .models import KnownError
from .problem_filtersets import KnownErrorFilterSet
from .problem_forms import KnownErrorForm
from .problem_selectors import known_error_suggest, known_errors_visible_to
from .problem_views import _error_text, ui_context

PAGE_SIZE = 25
READ_PERMS = ("incidents.view_knownerror", "incidents.view_published_knownerror")


def _readable(request: HttpRequest):
    """The known errors the user may read; refuses (403, naming the role) anyone else."""
    if not any(request.user.has_perm(p) for p in READ_PERMS):
        raise RoleRequired(["incidents.view_published_knownerror"])
    return known_errors_visible_to(request.user)


def known_error_list(request: HttpRequest) -> HttpResponse:
    """Search the known errors (full text on PostgreSQL); end users see published ones."""
    queryset = _readable(request)
    filterset = KnownErrorFilterSet(request.GET or None, queryset=queryset)
    if not filterset.is_bound:
        queryset = filterset.queryset.order_by("-updated", "-id")
    elif filterset.is_valid():
        queryset = filterset.qs
        if not request.GET.get("q"):
            queryset = queryset.order_by("-updated", "-id")
    else:
        queryset = filterset.queryset.none()
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"filterset": filterset, "page": page, "query": query.urlencode()}
    partial = request.htmx and not request.htmx.boosted
    template = "incidents/_known_error_table.html" if partial else "incidents/known_error_list.html"
    return render(request, template, context)


def known_error_detail(request: HttpRequest, pk: int) -> HttpResponse:
    known_error = get_object_or_404(
        _readable(request).prefetch_related("cis__ci_type", "ci_types", "problems"), pk=pk
    )
    staff = request.user.has_perm("incidents.view_knownerror")
    return render(
        request,
        "incidents/known_error_detail.html",
        {
            "known_error": known_error,
            "staff": staff,
            "history": entries_for(known_error)[:30] if staff else [],
        },
    )


def known_error_suggest_view(request: HttpRequest) -> HttpResponse:
    """`?title=…&ci=…&category=…` → the suggestions fragment (`_known_error_suggestions.html`).
    Bad CI ids are ignored: a fragment refreshed while typing never fails."""
    _readable(request)
    cis = [int(c) for c in request.GET.getlist("ci") if c.strip().isdigit()]
    suggestions = known_error_suggest(
        text=request.GET.get("title", ""),
        cis=cis,
        category=request.GET.get("category", ""),
        user=request.user,
    )
    return render(request, "incidents/_known_error_suggestions.html", {"suggestions": suggestions})


def _save(request: HttpRequest, known_error: KnownError | None) -> HttpResponse:
    if request.method == "POST":
        form = KnownErrorForm(request.POST)
        if form.is_valid():
            data = dict(form.cleaned_data)
            ci_types = data.pop("ci_types")
            try:
                if known_error is None:
                    known_error = problem_services.known_error_create(
                        context=ui_context(request), ci_types=ci_types, **data
                    )
                else:
                    known_error = problem_services.known_error_update(
                        context=ui_context(request),
                        known_error_id=known_error.pk,
                        data=data,
                        ci_types=ci_types,
                    )
            except (ApplicationError, ValidationError) as exc:
                form.add_error(None, _error_text(exc))
            else:
                messages.success(request, "Known error saved.")
                return redirect(known_error)
    elif known_error is not None:
        form = KnownErrorForm(
            initial={
                **{f: getattr(known_error, f) for f in problem_services.KNOWN_ERROR_TEXT},
                "published": known_error.published,
                "ci_types": list(known_error.ci_types.all()),
            }
        )
    else:
        form = KnownErrorForm()
    return render(
        request, "incidents/known_error_form.html", {"form": form, "known_error": known_error}
    )


@permission_required("incidents.add_knownerror")
def known_error_create(request: HttpRequest) -> HttpResponse:
    return _save(request, None)


@permission_required("incidents.change_knownerror")
def known_error_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _save(request, get_object_or_404(KnownError, pk=pk))
