"""Trend analysis of incidents: the summary table's refresh and the trend report.

`refresh()` rebuilds `IncidentDailyCount` for the days whose incidents changed since the last
run (a watermark in `TrendWatermark`), so the beat task stays cheap however many incidents
there are; `refresh(since=…)` rebuilds every day from a date on (the `refresh_trends`
command). `trend_report()` reads only the summary table.

Which groups are rising: the Mann-Kendall trend test (`pymannkendall.original_test`) on each
group's counts per period. It is non-parametric — it asks only whether later counts tend to
exceed earlier ones, with no assumption of linearity or of a distribution, which suits counts
that are small, skewed and full of ties (the test's variance corrects for ties) — and reports
Sen's slope as the size of the trend. Several groups are tested at once, so the p-values are
adjusted with Benjamini-Hochberg (`scipy.stats.false_discovery_control`) before comparing them
with `ALPHA`: with twenty flat categories, one would otherwise be "rising" by chance. Minimum
data: a group is tested only with at least `MIN_PERIODS` complete periods and `MIN_TOTAL`
incidents; otherwise it is reported as not tested. The period still running (this week, this
month) is shown but left out of the test, since its count is incomplete.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import pymannkendall
from django.db import transaction
from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import TruncDate, TruncMonth, TruncWeek
from django.utils import timezone
from scipy.stats import false_discovery_control

from itsm.exceptions import ApplicationError

from .choices import Cause
from .models import Incident, IncidentDailyCount, TrendWatermark
from .problem_choices import TrendDimension, TrendPeriod

WATERMARK = "incident_daily_counts"
#: The watermark of a summary never refreshed: every incident is new to it.
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
#: A change committed while the previous run was reading may carry an `updated` a little
#: older than its watermark: re-read this much before it (recomputing a day is idempotent).
OVERLAP = dt.timedelta(minutes=10)
#: Days recomputed per step (their incidents read by one query per dimension).
CHUNK_DAYS = 62
ALPHA = 0.05
MIN_PERIODS = 6
MIN_TOTAL = 10
MAX_BUCKETS = 400
DEFAULT_GROUPS = 20
DEFAULT_SPAN = {TrendPeriod.DAY: 30, TrendPeriod.WEEK: 12, TrendPeriod.MONTH: 12}

#: The incident column (a values() path) each dimension groups by.
DIMENSION_PATHS = {
    TrendDimension.CATEGORY: "category",
    TrendDimension.CAUSE: "cause",
    TrendDimension.CI_TYPE: "cis__ci_type__name",
    TrendDimension.DEPARTMENT: "department__name",
    TrendDimension.RESOLUTION_METHOD: "resolution_method",
}


# --- refresh ------------------------------------------------------------------------------


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_current_timezone())


def _runs(days: Iterable[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """Consecutive days grouped into (first, last) runs."""
    runs: list[tuple[dt.date, dt.date]] = []
    for day in sorted(set(days)):
        if runs and (day - runs[-1][1]).days == 1:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def counts_for_days(days: Iterable[dt.date]) -> list[IncidentDailyCount]:
    """The summary rows of `days`, computed from the incidents: one grouped query per
    dimension, whatever the number of days (their runs of consecutive days ORed together)."""
    when = Q(pk__in=[])
    for first, last in _runs(days):
        when |= Q(
            created__gte=_day_start(first), created__lt=_day_start(last + dt.timedelta(days=1))
        )
    incidents = Incident.objects.filter(when).annotate(day=TruncDate("created"))
    rows = []
    for dimension, path in DIMENSION_PATHS.items():
        distinct = path.startswith("cis__")
        grouped = (
            incidents.values("day", path)
            .annotate(n=Count("id", distinct=distinct))
            .values_list("day", path, "n")
            .order_by()
        )
        for day, value, n in grouped:
            rows.append(
                IncidentDailyCount(day=day, dimension=dimension, value=(value or "")[:200], count=n)
            )
    return rows


def refresh(*, since: dt.date | None = None, now: dt.datetime | None = None) -> int:
    """Bring the summary table up to date; answer the number of days recomputed.

    Without `since`: the days on which incidents changed since the watermark were logged
    (every day on the first run). With `since`: every day from that date to today. Runs are
    serialised on the watermark row (a run that overlaps the previous one waits for it, then
    recomputes only what changed since), so two never rewrite the same days at once.
    """
    now = now or timezone.now()
    with transaction.atomic():
        mark, _ = TrendWatermark.objects.select_for_update().get_or_create(
            name=WATERMARK, defaults={"refreshed_at": EPOCH}
        )
        incidents: QuerySet[Incident] = Incident.objects.all()
        if since is not None:
            incidents = incidents.filter(created__gte=_day_start(since))
        elif mark.refreshed_at > EPOCH:
            incidents = incidents.filter(updated__gte=mark.refreshed_at - OVERLAP)
        days = set(
            incidents.annotate(day=TruncDate("created"))
            .order_by()
            .values_list("day", flat=True)
            .distinct()
        )
        if since is not None:
            # Days left without incidents lose their old rows too.
            days |= set(
                IncidentDailyCount.objects.filter(day__gte=since)
                .values_list("day", flat=True)
                .distinct()
            )
        ordered = sorted(days)
        for i in range(0, len(ordered), CHUNK_DAYS):
            chunk = ordered[i : i + CHUNK_DAYS]
            IncidentDailyCount.objects.filter(day__in=chunk).delete()
            IncidentDailyCount.objects.bulk_create(counts_for_days(chunk), batch_size=2000)
        mark.refreshed_at = now
        mark.save(update_fields=["refreshed_at"])
    return len(days)


# --- report -------------------------------------------------------------------------------


def _bucket_start(day: dt.date, period: str) -> dt.date:
    if period == TrendPeriod.WEEK:
        return day - dt.timedelta(days=day.weekday())
    if period == TrendPeriod.MONTH:
        return day.replace(day=1)
    return day


def _next_bucket(start: dt.date, period: str) -> dt.date:
    if period == TrendPeriod.WEEK:
        return start + dt.timedelta(days=7)
    if period == TrendPeriod.MONTH:
        return (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return start + dt.timedelta(days=1)


def default_range(period: str, today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """The last 30 days, 12 weeks or 12 months up to today."""
    end = today or timezone.localdate()
    start = _bucket_start(end, period)
    for _ in range(DEFAULT_SPAN[TrendPeriod(period)] - 1):
        start = _bucket_start(start - dt.timedelta(days=1), period)
    return start, end


def _label(dimension: str, value: str) -> str:
    if not value:
        return "(none)"
    if dimension == TrendDimension.CAUSE and value in Cause.values:
        return str(Cause(value).label)
    if dimension == TrendDimension.RESOLUTION_METHOD:
        from . import choices

        methods = getattr(choices, "ResolutionMethod", None)
        if methods is not None and value in methods.values:
            return str(methods(value).label)
    return value


def _trend(counts: list[int], complete: int) -> dict[str, Any]:
    """Mann-Kendall on the complete periods, when there is enough data."""
    tested = counts[:complete]
    if len(tested) < MIN_PERIODS or sum(tested) < MIN_TOTAL or len(set(tested)) < 2:
        return {"tested": False, "direction": "insufficient data", "p_value": None, "slope": None}
    result = pymannkendall.original_test(tested)
    return {
        "tested": True,
        "direction": result.trend,
        "p_value": float(result.p),
        "slope": round(float(result.slope), 4),
        "tau": round(float(result.Tau), 4),
        "increasing": result.s > 0,
    }


def trend_report(
    *,
    group_by: str,
    period: str,
    start: dt.date | None = None,
    end: dt.date | None = None,
    limit: int = DEFAULT_GROUPS,
) -> dict[str, Any]:
    """Incident counts per `period` (day | week | month) for each value of `group_by`
    (category | cause | ci_type | department | resolution_method), from `start` to `end`
    (default: the last 30 days / 12 weeks / 12 months), the `limit` biggest groups, and which
    of them are rising (see the module's docstring). Bad groupings or ranges raise
    `ApplicationError` (400)."""
    if group_by not in TrendDimension.values:
        raise ApplicationError(
            f"Cannot group by '{group_by}'.",
            extra={"group_by": [f"One of: {', '.join(TrendDimension.values)}."]},
        )
    if period not in TrendPeriod.values:
        raise ApplicationError(
            f"Unknown period '{period}'.",
            extra={"period": [f"One of: {', '.join(TrendPeriod.values)}."]},
        )
    default_start, default_end = default_range(period, end)
    end = end or default_end
    start = start or default_start
    if start > end:
        raise ApplicationError("The start is after the end.", extra={"start": ["After end."]})
    buckets = [_bucket_start(start, period)]
    while _next_bucket(buckets[-1], period) <= end:
        buckets.append(_next_bucket(buckets[-1], period))
        if len(buckets) > MAX_BUCKETS:
            raise ApplicationError(
                f"At most {MAX_BUCKETS} periods: choose a longer period or a shorter range.",
                extra={"start": ["Range too long for this period."]},
            )
    complete = sum(1 for b in buckets if _next_bucket(b, period) - dt.timedelta(days=1) <= end)
    trunc = {"day": F("day"), "week": TruncWeek("day"), "month": TruncMonth("day")}[period]
    rows = (
        IncidentDailyCount.objects.filter(dimension=group_by, day__gte=buckets[0], day__lte=end)
        .annotate(bucket=trunc)
        .values_list("value", "bucket")
        .annotate(n=Sum("count"))
        .order_by()
    )
    index = {b: i for i, b in enumerate(buckets)}
    series: dict[str, list[int]] = {}
    for value, bucket, n in rows:
        if isinstance(bucket, dt.datetime):
            bucket = bucket.date()
        counts = series.setdefault(value, [0] * len(buckets))
        counts[index[bucket]] += int(n)
    ranked = sorted(series.items(), key=lambda item: (-sum(item[1]), item[0]))[:limit]
    out = []
    for value, counts in ranked:
        trend = _trend(counts, complete)
        out.append(
            {
                "value": value,
                "label": _label(group_by, value),
                "counts": counts,
                "total": sum(counts),
                "trend": trend,
                "rising": False,
            }
        )
    tested = [s for s in out if s["trend"]["tested"]]
    if tested:
        adjusted = false_discovery_control([s["trend"]["p_value"] for s in tested])
        for s, p in zip(tested, adjusted, strict=True):
            s["trend"]["p_adjusted"] = float(p)
            s["rising"] = bool(s["trend"].pop("increasing") and p < ALPHA)
    return {
        "group_by": group_by,
        "period": period,
        "start": buckets[0].isoformat(),
        "end": end.isoformat(),
        "buckets": [b.isoformat() for b in buckets],
        "complete_periods": complete,
        "series": out,
        "rising": [s["value"] for s in out if s["rising"]],
    }


def report_csv_rows(report: dict[str, Any]) -> list[list[Any]]:
    """The report as CSV rows: one per (period, group), with a header."""
    rows: list[list[Any]] = [["period_start", "group", "label", "count", "rising"]]
    for s in report["series"]:
        for bucket, count in zip(report["buckets"], s["counts"], strict=True):
            rows.append([bucket, s["value"], s["label"], count, "yes" if s["rising"] else "no"])
    return rows
