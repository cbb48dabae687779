"""Web pages of the CAB and the calendar: the CAB member's page (vote in one click, the row
updates in place), CAB meetings, the change calendar (month and week) and the metrics page."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from itsm.exceptions import ApplicationError
from itsm.permissions import permission_required

from . import selectors, services, ui_selectors
from .filtersets import CabMeetingFilterSet
from .forms import DecisionForm, MeetingForm, VoteForm
from .models import CabAgendaItem, CabMeeting, Change, Vote
from .page_views import _partial, apply_errors, refusal_status, ui_context

CAB_PAGE_SIZE = 50
MEETING_PAGE_SIZE = 50


# --- the CAB member's page ----------------------------------------------------------------


@permission_required("changes.view_change")
def cab_page(request: HttpRequest) -> HttpResponse:
    """The RFCs awaiting my vote (bodies I sit on, or CIs I own; never my own RFCs), each with
    impact, risk and reasons, plans, conflicts, and history on demand. Fixed query count."""
    queryset = ui_selectors.cab_page_queryset(selectors.cab_pending_for(request.user))
    page = Paginator(queryset, CAB_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = ui_selectors.cab_rows(list(page.object_list))
    return render(request, "changes/cab_page.html", {"page": page, "rows": rows, "query": ""})


@require_GET
@permission_required("changes.view_change")
def cab_details(request: HttpRequest, pk: int) -> HttpResponse:
    """The expandable part of a CAB row (htmx, on opening): the impact set and the change log."""
    change = get_object_or_404(Change, pk=pk)
    return render(
        request,
        "changes/_cab_details.html",
        {
            "change": change,
            "impact": selectors.change_impact(change),
            "log": selectors.change_log(change)[:100],
        },
    )


@require_POST
@permission_required("changes.view_change")
def cab_vote(request: HttpRequest, pk: int) -> HttpResponse:
    """Approve, reject or ask for information, with a comment, in one click. htmx gets the row
    back: the outcome in place of the buttons, or the refusal inline (4xx, nothing changed)."""
    change = get_object_or_404(Change, pk=pk)
    form = VoteForm(request.POST)
    error, status, vote = "", 200, None
    if not form.is_valid():
        error, status = " ".join(e for errors in form.errors.values() for e in errors), 400
    else:
        decision, comment = form.cleaned_data["decision"], form.cleaned_data["comment"]
        try:
            if decision == "request_info":
                services.change_request_info(
                    context=ui_context(request), change=change, comment=comment
                )
            else:
                vote = services.change_vote(
                    context=ui_context(request), change=change, decision=decision, comment=comment
                )
        except ApplicationError as exc:
            error, status = exc.message, refusal_status(exc)
    if not _partial(request):
        if error:
            messages.error(request, f"{change.number}: {error}")
        else:
            messages.success(request, f"{change.number}: your decision is recorded.")
        return redirect("changes:cab")
    change.refresh_from_db()
    if error:
        row = _row(change)
        return render(
            request,
            "changes/_cab_row.html",
            {"row": row, "error": error, "comment": form.data.get("comment", "")},
            status=status,
        )
    return render(
        request,
        "changes/_cab_done.html",
        {"change": change, "vote": vote, "decision": form.cleaned_data["decision"]},
    )


def _row(change: Change) -> dict:
    queryset = ui_selectors.cab_page_queryset(Change.objects.filter(pk=change.pk))
    return ui_selectors.cab_rows(list(queryset))[0]


# --- CAB meetings -------------------------------------------------------------------------


@permission_required("changes.view_change")
def meeting_list(request: HttpRequest) -> HttpResponse:
    """CAB meetings, newest first, with the size of their agenda."""
    filterset = CabMeetingFilterSet(
        request.GET or None,
        queryset=CabMeeting.objects.select_related("body").annotate(items_count=Count("items")),
    )
    queryset = filterset.qs if filterset.is_bound and filterset.is_valid() else filterset.queryset
    if filterset.is_bound and not filterset.is_valid():
        queryset = queryset.none()
    page = Paginator(queryset.order_by("-start", "-id"), MEETING_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "changes/meeting_list.html",
        {"page": page, "filterset": filterset, "query": query.urlencode()},
    )


@permission_required("changes.manage_change")
def meeting_create(request: HttpRequest) -> HttpResponse:
    """Plan a meeting; its agenda is built from the RFCs waiting for the board."""
    form = MeetingForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            meeting = services.cab_meeting_create(context=ui_context(request), **form.cleaned_data)
        except ApplicationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(
                request, f"Planned {meeting.title} with {meeting.items.count()} RFCs on the agenda."
            )
            return redirect("changes:meeting-detail", pk=meeting.pk)
    waiting = {
        body.pk: selectors.waiting_for_body(body).count() for body in form.fields["body"].queryset
    }
    return render(
        request,
        "changes/meeting_form.html",
        {"form": form, "waiting": waiting},
        status=400 if form.errors else 200,
    )


def _meeting_items(meeting: CabMeeting):
    votes = Vote.objects.select_related("voter").order_by("at")
    items = list(
        meeting.items.select_related("change__originator").prefetch_related(
            Prefetch("change__votes", queryset=votes)
        )
    )
    for item in items:
        item.round_votes = [v for v in item.change.votes.all() if v.round == item.change.vote_round]
    return items


@permission_required("changes.view_change")
def meeting_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A meeting: its agenda, each RFC with the votes cast and the decision recorded."""
    meeting = get_object_or_404(CabMeeting.objects.select_related("body", "created_by"), pk=pk)
    return render(
        request,
        "changes/meeting_detail.html",
        {
            "meeting": meeting,
            "items": _meeting_items(meeting),
            "can_decide": request.user.has_perm("changes.manage_change"),
            "decision_form": DecisionForm(),
        },
    )


@require_POST
@permission_required("changes.manage_change")
def meeting_decide(request: HttpRequest, pk: int, item_pk: int) -> HttpResponse:
    """Record the meeting's decision on an agenda item (htmx: the item's row is swapped)."""
    meeting = get_object_or_404(CabMeeting, pk=pk)
    item = get_object_or_404(
        CabAgendaItem.objects.select_related("change"), pk=item_pk, meeting=meeting
    )
    form = DecisionForm(request.POST)
    error, status = "", 200
    if form.is_valid():
        try:
            services.cab_meeting_record_decision(
                context=ui_context(request),
                meeting=meeting,
                change=item.change,
                decision=form.cleaned_data["decision"],
                notes=form.cleaned_data["notes"],
            )
        except ApplicationError as exc:
            error, status = exc.message, refusal_status(exc)
    else:
        error, status = "Choose a decision.", 400
    if not _partial(request):
        if error:
            messages.error(request, error)
        return redirect("changes:meeting-detail", pk=meeting.pk)
    fresh = next(i for i in _meeting_items(meeting) if i.pk == item.pk)
    return render(
        request,
        "changes/_meeting_item.html",
        {"meeting": meeting, "item": fresh, "can_decide": True, "error": error,
         "decision_form": form if error else DecisionForm()},
        status=status,
    )  # fmt: skip


# --- the calendar -------------------------------------------------------------------------


def _parse_day(value: str | None) -> dt.date:
    try:
        return dt.date.fromisoformat(value) if value else timezone.localdate()
    except ValueError:
        return timezone.localdate()


@permission_required("changes.view_change")
def calendar_page(request: HttpRequest) -> HttpResponse:
    """Month (`?view=month&date=2026-12-01`) or week view of scheduled changes, blackouts
    shaded, conflicts flagged, with the iCalendar subscription link."""
    view = "week" if request.GET.get("view") == "week" else "month"
    day = _parse_day(request.GET.get("date"))
    if view == "week":
        first, count = ui_selectors.week_first(day), 7
        prev_day, next_day = day - dt.timedelta(days=7), day + dt.timedelta(days=7)
        title = f"Week of {first:%d %B %Y}"
    else:
        first, count = ui_selectors.month_first(day), ui_selectors.month_days(day)
        month = day.replace(day=1)
        prev_day = (month - dt.timedelta(days=1)).replace(day=1)
        next_day = (month + dt.timedelta(days=32)).replace(day=1)
        title = f"{month:%B %Y}"
    grid = ui_selectors.calendar_grid(first, count)
    weeks = [grid["days"][i : i + 7] for i in range(0, len(grid["days"]), 7)]
    feed = _feed_url(request)
    return render(
        request,
        "changes/calendar.html",
        {
            "view": view,
            "day": day,
            "month": day.month,
            "title": title,
            "weeks": weeks,
            "grid": grid,
            "prev": prev_day.isoformat(),
            "next": next_day.isoformat(),
            "today": timezone.localdate().isoformat(),
            "feed_url": feed,
        },
    )


def _feed_url(request: HttpRequest) -> str:
    """The subscription link of the iCalendar feed, with the user's own signed token."""
    from .feeds import calendar_feed_url

    return request.build_absolute_uri(calendar_feed_url(request.user))


# --- metrics ------------------------------------------------------------------------------


def _month_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(
        day.replace(day=1), dt.time.min, tzinfo=timezone.get_current_timezone()
    )


@permission_required("changes.view_change")
def metrics_page(request: HttpRequest) -> HttpResponse:
    """Emergency ratio, success rate, mean lead time and changes causing incidents over the last
    90 days, and month by month over the last six months (Chart.js, data via json_script)."""
    start, end = selectors.default_metrics_period()
    totals = selectors.change_metrics(start, end)
    months = []
    first = timezone.localdate().replace(day=1)
    for back in range(5, -1, -1):
        month = first
        for _ in range(back):
            month = (month - dt.timedelta(days=1)).replace(day=1)
        lo = _month_start(month)
        hi = _month_start((month + dt.timedelta(days=32)).replace(day=1))
        m = selectors.change_metrics(lo, hi)
        months.append(
            {
                "label": f"{month:%b %Y}",
                "emergency_ratio": m["emergency_ratio"],
                "success_rate": m["success_rate"],
                "mean_lead_time_hours": m["mean_lead_time_hours"],
                "causing_incidents": m["causing_incidents"],
                "submitted": m["submitted"],
                "implemented": m["implemented"],
            }
        )
    return render(request, "changes/metrics.html", {"totals": totals, "series": months})


# --- conflicts ----------------------------------------------------------------------------


@permission_required("changes.view_change")
def conflicts_page(request: HttpRequest) -> HttpResponse:
    """Conflicts on the calendar in a period (`?start=2026-12-01&days=30`, default the next 30
    days): changes touching the same CI or overlapping impact sets in overlapping windows, and
    changes inside a blackout."""
    first = _parse_day(request.GET.get("start"))
    days = request.GET.get("days", "30")
    days_n = min(int(days), 366) if days.isdigit() and int(days) > 0 else 30
    tz = timezone.get_current_timezone()
    start = dt.datetime.combine(first, dt.time.min, tzinfo=tz)
    end = start + dt.timedelta(days=days_n)
    found = selectors.conflicts(start, end)
    return render(
        request,
        "changes/conflicts.html",
        {"found": found, "first": first, "days": days_n, "start": start, "end": end},
    )
