"""Reads the change-management pages need beyond `selectors`: the CAB page's rows in a fixed
number of queries, the actions an RFC offers its viewer, and the calendar's grid."""

from __future__ import annotations

import calendar as pycalendar
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from .choices import ON_CALENDAR, BodyKind, ChangeStatus, can_move
from .models import Blackout, Change, ChangeImpact, Vote
from .selectors import blackouts_overlapping, calendar_changes, conflicts

EDITABLE = frozenset({ChangeStatus.DRAFT, ChangeStatus.INFO_REQUESTED})
#: Statuses in which nothing more is attached.
FINISHED = frozenset({ChangeStatus.CLOSED, ChangeStatus.CANCELLED, ChangeStatus.REJECTED})


def with_impact_count(queryset: QuerySet[Change]) -> QuerySet[Change]:
    """Annotate `impact_count` (CIs in the stored ripple set) in the same query."""
    counts = (
        ChangeImpact.objects.filter(change=OuterRef("pk"))
        .order_by()
        .values("change")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return queryset.annotate(impact_count=Coalesce(Subquery(counts), 0))


def cab_rows(changes: Sequence[Change]) -> list[dict[str, Any]]:
    """For a page of RFCs awaiting a vote: each with its business services, the votes of its
    current round, its conflicts (other changes on the calendar touching its CIs or impact set
    in an overlapping window) and the blackouts its window falls in — in a fixed number of
    queries whatever the number of RFCs."""
    ids = [c.pk for c in changes]
    if not ids:
        return []
    services: dict[int, list[dict]] = defaultdict(list)
    touched: dict[int, set[int]] = defaultdict(set)
    for change_id, ci_id, name, depth, is_service in ChangeImpact.objects.filter(
        change_id__in=ids
    ).values_list("change_id", "ci_id", "ci__name", "depth", "business_service"):
        touched[change_id].add(ci_id)
        if is_service:
            services[change_id].append({"id": ci_id, "name": name, "depth": depth})
    votes: dict[int, list[Vote]] = defaultdict(list)
    for vote in Vote.objects.filter(change_id__in=ids).select_related("voter").order_by("at"):
        votes[vote.change_id].append(vote)
    own: dict[int, set[int]] = {}
    type_ids: dict[int, set[int]] = {}
    for change in changes:
        cis = list(change.cis.all())  # prefetched
        own[change.pk] = {ci.pk for ci in cis}
        type_ids[change.pk] = {ci.ci_type_id for ci in cis}
        touched[change.pk] |= own[change.pk]
    windows = [
        (c.planned_start, c.planned_end) for c in changes if c.planned_start and c.planned_end
    ]
    clashes: dict[int, list[dict]] = defaultdict(list)
    blackout_hits: dict[int, list[Blackout]] = defaultdict(list)
    if windows:
        lo = min(start for start, _ in windows)
        hi = max(end for _, end in windows)
        all_cis = set().union(*touched.values())
        rows = (
            ChangeImpact.objects.filter(
                ci_id__in=all_cis,
                change__status__in=ON_CALENDAR,
                change__planned_start__lt=hi,
                change__planned_end__gt=lo,
            )
            .exclude(change_id__in=ids)
            .values_list(
                "change_id",
                "ci_id",
                "change__number",
                "change__title",
                "change__planned_start",
                "change__planned_end",
            )
        )
        others: dict[int, dict[str, Any]] = {}
        for other_id, ci_id, number, title, start, end in rows:
            other = others.setdefault(
                other_id,
                {"id": other_id, "number": number, "title": title, "start": start, "end": end,
                 "cis": set()},
            )  # fmt: skip
            other["cis"].add(ci_id)
        blackouts = list(blackouts_overlapping(lo, hi).prefetch_related("cis", "ci_types"))
        for change in changes:
            if not (change.planned_start and change.planned_end):
                continue
            for other in others.values():
                shared = other["cis"] & touched[change.pk]
                if (
                    shared
                    and other["start"] < change.planned_end
                    and other["end"] > change.planned_start
                ):
                    clashes[change.pk].append({**other, "shared": len(shared)})
            for blackout in blackouts:
                if _blackout_applies(blackout, change, own[change.pk], type_ids[change.pk]):
                    blackout_hits[change.pk].append(blackout)
    return [
        {
            "change": change,
            "business_services": services[change.pk],
            "votes": [v for v in votes[change.pk] if v.round == change.vote_round],
            "conflicts": clashes[change.pk],
            "blackouts": blackout_hits[change.pk],
        }
        for change in changes
    ]


def _blackout_applies(
    blackout: Blackout, change: Change, ci_ids: set[int], types: set[int]
) -> bool:
    if change.planned_start is None or change.planned_end is None:
        return False
    if not (blackout.start < change.planned_end and blackout.end > change.planned_start):
        return False
    scope_cis = {ci.pk for ci in blackout.cis.all()}
    scope_types = {t.pk for t in blackout.ci_types.all()}
    return (not scope_cis and not scope_types) or bool(scope_cis & ci_ids or scope_types & types)


def cab_page_queryset(queryset: QuerySet[Change]) -> QuerySet[Change]:
    """The CAB page's RFCs with what a row shows (their CIs, the impact count)."""
    return with_impact_count(
        queryset.select_related(None)
        .prefetch_related(None)
        .select_related("originator", "approval_body")
        .prefetch_related("cis")
    )


# --- the RFC page ---------------------------------------------------------------------------

ACTIONS = {
    # name: (label, target status, permission a user needs; None: originator or manager)
    "submit": ("Submit", ChangeStatus.SUBMITTED, "changes.add_change"),
    "resubmit": ("Resubmit", ChangeStatus.SUBMITTED, "changes.add_change"),
    "schedule": ("Schedule", ChangeStatus.SCHEDULED, "changes.manage_change"),
    "implement": ("Record as implemented", ChangeStatus.IMPLEMENTED, "changes.implement_change"),
    "review": ("Review", ChangeStatus.REVIEWED, "changes.implement_change"),
    "close": ("Close", ChangeStatus.CLOSED, "changes.manage_change"),
    "cancel": ("Cancel", ChangeStatus.CANCELLED, "changes.add_change"),
}
OWNER_ACTIONS = frozenset({"submit", "resubmit", "cancel"})


def allowed_actions(change: Change, user) -> list[str]:
    """The next moves the RFC allows that this user may make, in workflow order."""
    found = []
    is_owner = user.pk == change.originator_id
    manager = user.has_perm("changes.manage_change")
    for name, (_, target, perm) in ACTIONS.items():
        if not can_move(change.status, target):
            continue
        if name == "submit" and change.status != ChangeStatus.DRAFT:
            continue
        if name == "resubmit" and change.status != ChangeStatus.INFO_REQUESTED:
            continue
        if not user.has_perm(perm):
            continue
        if name in OWNER_ACTIONS and not (is_owner or manager):
            continue
        found.append(name)
    return found


def can_edit(change: Change, user) -> bool:
    """Whether the user may edit the RFC's fields now."""
    return (
        change.status in EDITABLE
        and user.has_perm("changes.change_change")
        and (user.pk == change.originator_id or user.has_perm("changes.manage_change"))
    )


def can_vote(change: Change, user, voter_ids: Iterable[int]) -> bool:
    """Whether the user may vote on the RFC now (one of its voters, not yet voted)."""
    if change.status != ChangeStatus.SUBMITTED or user.pk == change.originator_id:
        return False
    if change.approver in (BodyKind.CAB, BodyKind.ECAB) and not user.has_perm(
        "changes.vote_change"
    ):
        return False
    return user.pk in set(voter_ids)


# --- the calendar ---------------------------------------------------------------------------


def _day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    tz = timezone.get_current_timezone()
    start = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
    return start, start + dt.timedelta(days=1)


def calendar_grid(first: dt.date, days: int) -> dict[str, Any]:
    """`days` days from `first`: each day with the changes on the calendar that day, the
    blackouts over it, and which changes are in a conflict (same CI, overlapping impact or
    inside a blackout). Five queries whatever the number of changes."""
    start, _ = _day_bounds(first)
    end = start + dt.timedelta(days=days)
    changes = list(calendar_changes(start, end))
    blackouts = list(blackouts_overlapping(start, end))
    found = conflicts(start, end)
    flagged: dict[int, list[str]] = defaultdict(list)
    for pair in found["conflicts"]:
        a, b = pair["changes"]
        flagged[a["id"]].append(f"{pair['kind'].replace('_', ' ')} with {b['number']}")
        flagged[b["id"]].append(f"{pair['kind'].replace('_', ' ')} with {a['number']}")
    for hit in found["blackouts"]:
        names = ", ".join(b["name"] for b in hit["blackouts"])
        flagged[hit["change"]["id"]].append(f"inside blackout {names}")
    today = timezone.localdate()
    grid = []
    for offset in range(days):
        day = first + dt.timedelta(days=offset)
        lo, hi = _day_bounds(day)
        grid.append(
            {
                "date": day,
                "today": day == today,
                "changes": [
                    {"change": c, "conflicts": flagged.get(c.pk, [])}
                    for c in changes
                    if c.planned_start is not None
                    and c.planned_end is not None
                    and c.planned_start < hi
                    and c.planned_end > lo
                ],
                "blackouts": [b for b in blackouts if b.start < hi and b.end > lo],
            }
        )
    return {
        "days": grid,
        "start": start,
        "end": end,
        "blackouts": blackouts,
        "conflict_count": len(found["conflicts"]) + len(found["blackouts"]),
        "truncated": found["truncated"],
    }


def month_first(day: dt.date) -> dt.date:
    """The Monday on or before the first of `day`'s month (the month grid's first cell)."""
    first = day.replace(day=1)
    return first - dt.timedelta(days=first.weekday())


def month_days(day: dt.date) -> int:
    """Cells of the month grid: whole weeks covering the month."""
    first = month_first(day)
    last = day.replace(day=pycalendar.monthrange(day.year, day.month)[1])
    return ((last - first).days // 7 + 1) * 7


def week_first(day: dt.date) -> dt.date:
    """The Monday of `day`'s week."""
    return day - dt.timedelta(days=day.weekday())
