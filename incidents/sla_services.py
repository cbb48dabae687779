"""SLAs applied to incidents: which policy, which calendar, the due times, the pause on hold,
the breach sweep. Helpers here change an incident in memory; the calling service saves it.

Policies and calendars are kept in process memory: with a shared cache (Redis) until the
"sla" generation is bumped (any save or delete of an SLA table, `sla_changed`), so logging an
incident reads neither; without one, calendars for `CACHE_SECONDS` and policies not at all.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from itsm import caching
from itsm.audit import ChangeContext, new, record_many
from itsm.permissions import require_permission

from . import sla
from .choices import OPEN_STATUSES, IncidentStatus, SlaTarget
from .models import BusinessCalendar, Incident, SlaPolicy

CACHE_SECONDS = 60.0

_lock = threading.Lock()
#: calendar id → (monotonic time read, "sla" generation or None, the calendar)
_calendars: dict[int, tuple[float, int | None, sla.Calendar]] = {}
#: priority → (the "sla" generation they were read under, the policies of that priority)
_policies: dict[int, tuple[int, list[SlaPolicy]]] = {}


def forget_calendars(*args, **kwargs) -> None:
    """Drop the cached calendars and policies (connected to the SLA tables' save and delete,
    which also bump the shared "sla" generation for the other processes)."""
    with _lock:
        _calendars.clear()
        _policies.clear()


def sla_changed(*args, **kwargs) -> None:
    """Signal receiver: an SLA table changed."""
    forget_calendars()
    caching.bump("sla")


def _policies_of(priority: int) -> list[SlaPolicy]:
    """The policies of a priority: from process memory while the shared "sla" generation
    holds (no query), else from the database."""
    if not caching.enabled():
        return list(SlaPolicy.objects.filter(priority=priority))
    generation = caching.generation("sla")
    cached = _policies.get(priority)
    if cached is not None and cached[0] == generation:
        return cached[1]
    rows = list(SlaPolicy.objects.filter(priority=priority))
    with _lock:
        _policies[priority] = (generation, rows)
    return rows


def calendar(calendar_id: int) -> sla.Calendar:
    """The business calendar `calendar_id` as a pure `sla.Calendar`, cached in the process:
    while the shared "sla" generation holds (Redis), else for `CACHE_SECONDS`."""
    now = time.monotonic()
    generation = caching.generation("sla") if caching.enabled() else None
    with _lock:
        cached = _calendars.get(calendar_id)
    if cached is not None and (
        cached[1] == generation if generation is not None else now - cached[0] < CACHE_SECONDS
    ):
        return cached[2]
    row = BusinessCalendar.objects.get(pk=calendar_id)
    generated = None
    if row.country:
        import holidays

        generated = holidays.country_holidays(row.country, subdiv=row.subdivision or None)
    built = sla.Calendar.build(
        time_zone=row.time_zone,
        hours=row.working_hours.values_list("weekday", "start", "end"),
        holidays=sla.HolidaySet(row.holidays.values_list("date", flat=True), generated),
    )
    with _lock:
        _calendars[calendar_id] = (now, generation, built)
    return built


def _calendar_of(incident: Incident) -> sla.Calendar:
    policy = incident.sla_policy
    assert policy is not None
    return calendar(policy.calendar_id)


def policy_for(
    *, priority: int, ci_type_ids: Iterable[int] = (), department_id: int | None = None
) -> SlaPolicy | None:
    """The most specific policy for an incident: CI type and department, then CI type, then
    department, then the priority's default. One query."""
    types = set(ci_type_ids)
    best: tuple[int, int, SlaPolicy] | None = None
    for policy in _policies_of(priority):
        if policy.ci_type_id is not None and policy.ci_type_id not in types:
            continue
        if policy.department_id is not None and policy.department_id != department_id:
            continue
        score = 2 * (policy.ci_type_id is not None) + (policy.department_id is not None)
        if best is None or (score, -policy.pk) > best[:2]:
            best = (score, -policy.pk, policy)
    return best[2] if best else None


def sla_start(
    incident: Incident,
    *,
    at: dt.datetime,
    ci_type_ids: Iterable[int] = (),
) -> None:
    """Start a new SLA clock (logging, reopening): policy, targets and due times."""
    incident.sla_started_at = at
    incident.hold_business_s = 0
    incident.on_hold_since = None
    sla_apply_policy(incident, ci_type_ids=ci_type_ids)


def sla_apply_policy(incident: Incident, *, ci_type_ids: Iterable[int] = ()) -> None:
    """Pick the policy for the incident's priority (after logging or re-prioritising) and
    recompute the due times from the start of the SLA clock."""
    policy = policy_for(
        priority=incident.priority, ci_type_ids=ci_type_ids, department_id=incident.department_id
    )
    incident.sla_policy = policy
    if policy is None:
        incident.response_target_min = incident.resolve_target_min = None
    else:
        incident.response_target_min = policy.response_minutes
        incident.resolve_target_min = policy.resolution_minutes
    recompute_due(incident)


def recompute_due(incident: Incident) -> None:
    """Due times = SLA start + target + business time on hold, in the policy's calendar.
    The response due time is kept once the incident was responded to."""
    if incident.sla_policy_id is None or incident.sla_started_at is None:
        incident.response_due = incident.resolve_due = None
        return
    cal = _calendar_of(incident)
    start, hold = incident.sla_started_at, incident.hold_business_s
    if incident.responded_at is None and incident.response_target_min is not None:
        incident.response_due = sla.add_business_seconds(
            start, incident.response_target_min * 60 + hold, cal
        )
    if incident.resolve_target_min is not None:
        incident.resolve_due = sla.add_business_seconds(
            start, incident.resolve_target_min * 60 + hold, cal
        )


def sla_pause(incident: Incident, *, at: dt.datetime) -> None:
    """The clock stops while the incident is on hold."""
    incident.on_hold_since = at


def sla_resume(incident: Incident, *, at: dt.datetime) -> None:
    """The clock runs again: the business time spent on hold moves the due times."""
    if incident.on_hold_since is None:
        return
    if incident.sla_policy_id is not None:
        cal = _calendar_of(incident)
        held = sla.business_seconds_between(incident.on_hold_since, at, cal)
        incident.hold_business_s += max(0, round(held))
    incident.on_hold_since = None
    recompute_due(incident)


def elapsed_percent(incident: Incident, target: str, *, now: dt.datetime) -> float | None:
    """How much of a target the incident has used (100 = breached), None without a target."""
    minutes = (
        incident.response_target_min
        if target == SlaTarget.RESPONSE
        else incident.resolve_target_min
    )
    if not minutes or incident.sla_started_at is None or incident.sla_policy_id is None:
        return None
    cal = _calendar_of(incident)
    until = incident.on_hold_since or now
    used = sla.business_seconds_between(incident.sla_started_at, until, cal)
    return 100.0 * (used - incident.hold_business_s) / (minutes * 60)


def remaining_seconds(incident: Incident, target: str, *, now: dt.datetime) -> int | None:
    """Wall-clock seconds until the due time (negative: overdue), frozen while on hold; None
    when the target no longer applies (responded, resolved) or there is none."""
    if target == SlaTarget.RESPONSE:
        if incident.responded_at is not None or incident.status not in OPEN_STATUSES:
            return None
        due = incident.response_due
    else:
        if incident.status not in OPEN_STATUSES:
            return None
        due = incident.resolve_due
    if due is None:
        return None
    return int((due - (incident.on_hold_since or now)).total_seconds())


def is_breached(incident: Incident, *, now: dt.datetime) -> bool:
    """Whether a running target is past its due time."""
    if incident.status not in OPEN_STATUSES or incident.on_hold_since is not None:
        return False
    if incident.resolve_due is not None and incident.resolve_due < now:
        return True
    return (
        incident.responded_at is None
        and incident.response_due is not None
        and incident.response_due < now
    )


@transaction.atomic
def sla_mark_breaches(*, context: ChangeContext, now: dt.datetime | None = None) -> int:
    """Flag every open incident past a due time (the beat task's sweep); each flag is in the
    incident's timeline. Returns how many were flagged."""
    require_permission(context, "incidents.change_incident")
    now = now or timezone.now()
    from django.db.models import Q

    running = Incident.objects.filter(
        status__in=[s for s in OPEN_STATUSES if s != IncidentStatus.ON_HOLD],
        on_hold_since__isnull=True,
        sla_breached=False,
    )
    overdue = running.filter(
        Q(resolve_due__lt=now) | Q(responded_at__isnull=True, response_due__lt=now)
    )
    flagged = list(overdue.select_for_update(skip_locked=True).only("id", "number", "title"))
    if not flagged:
        return 0
    Incident.objects.filter(pk__in=[i.pk for i in flagged]).update(sla_breached=True)
    record_many(
        new(
            obj=i,
            kind="sla_breached",
            changes={"sla_breached": {"old": False, "new": True}},
            context=context,
        )
        for i in flagged
    )
    return len(flagged)
