"""Reads of change management that are more than a filter: who votes, what waits for whom,
blackouts and conflicts on the calendar, incidents a change may have caused, metrics."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from cmdb.models import ConfigurationItem
from incidents.models import Incident
from itsm.audit import entries_for
from itsm.models import AuditEntry

from .choices import (
    ON_CALENDAR,
    BodyKind,
    ChangeStatus,
    ChangeType,
    ReviewOutcome,
    VoteDecision,
)
from .models import ApprovalBody, Blackout, Change, ChangeImpact, Vote

#: At most this many conflicts are listed by `conflicts` (the busiest CIs could pair
#: thousands of changes); the answer says when it stopped.
MAX_CONFLICTS = 1000


def change_list_queryset() -> QuerySet[Change]:
    """RFCs with what a list shows, in a fixed number of queries."""
    return Change.objects.select_related(
        "originator", "template", "approval_body"
    ).prefetch_related("cis", "caused_incidents")


def changes_ready_for_release() -> QuerySet[Change]:
    """RFCs a release may carry: approved or scheduled (not yet implemented)."""
    return change_list_queryset().filter(status__in=[ChangeStatus.APPROVED, ChangeStatus.SCHEDULED])


def change_log(change: Change) -> QuerySet[AuditEntry]:
    """Every event of the RFC (the change log), newest first."""
    return entries_for(change)


#: The impact answer lists at most this many CIs (the nearest first); `count` has them all.
MAX_IMPACT_LISTED = 5000


def change_impact(change: Change) -> dict[str, Any]:
    """The stored ripple set of an RFC: its CIs (depth 0) and those it ripples to, with depth,
    type and whether each is a business service (the nearest MAX_IMPACT_LISTED; `count` is
    the whole set), the business services, and the risk with its reasons."""
    stored = ChangeImpact.objects.filter(change=change)
    fields = ("ci_id", "ci__name", "ci__ci_type__slug", "ci__status", "depth", "business_service")
    keys = ("id", "name", "ci_type", "status", "depth", "business_service")

    def listed(rows: QuerySet) -> list[dict[str, Any]]:
        ordered = rows.order_by("depth", "ci__name", "ci_id").values_list(*fields)
        return [dict(zip(keys, row, strict=True)) for row in ordered[:MAX_IMPACT_LISTED]]

    nodes = listed(stored)
    count = len(nodes) if len(nodes) < MAX_IMPACT_LISTED else stored.count()
    return {
        "change": change.pk,
        "computed_at": change.impact_computed_at,
        "count": count,
        "truncated": count > len(nodes),
        "nodes": nodes,
        "business_services": listed(stored.filter(business_service=True)),
        "risk": {"score": change.risk_score, "level": change.risk, "reasons": change.risk_reasons},
        "technical_assessment": change.technical_assessment,
    }


# --- who votes ------------------------------------------------------------------------------


def body_member_ids(body: ApprovalBody) -> set[int]:
    """The active members of a body: those named, or else its group's members."""
    users = get_user_model().objects.filter(is_active=True)
    named = set(body.members.filter(is_active=True).values_list("pk", flat=True))
    if named:
        return named
    if body.group_id is None:
        return set()
    return set(users.filter(groups=body.group_id).values_list("pk", flat=True))


def ci_owner_ids(change: Change) -> set[int]:
    """The owners of the RFC's CIs."""
    return set(
        change.cis.filter(owner__isnull=False, owner__is_active=True).values_list(
            "owner_id", flat=True
        )
    )


def eligible_voter_ids(change: Change) -> set[int]:
    """Who may vote on the RFC in its current round: the members of the body its rule named
    (or the owners of its CIs), never its originator."""
    body = change.approval_body if change.approval_body_id else None
    if change.approver in (BodyKind.CAB, BodyKind.ECAB) and body is not None:
        ids = body_member_ids(body)
    elif change.approver == BodyKind.CI_OWNER:
        ids = ci_owner_ids(change)
    else:
        ids = set()
    return ids - {change.originator_id}


@dataclass
class Tally:
    """The votes of an RFC's current round against its body's rule."""

    eligible: int
    cast: int
    approvals: int
    rejections: int
    remaining: int
    quorum: int
    majority: Decimal
    missing_required: list[str]  # "business", "technical": required members yet to vote

    @property
    def approved(self) -> bool:
        return (
            self.cast >= self.quorum
            and self.approvals > self.majority * self.cast
            and not self.missing_required
        )

    @property
    def rejected(self) -> bool:
        """Approval is out of reach even if everyone left approves."""
        total = self.cast + self.remaining
        return total > 0 and self.approvals + self.remaining <= self.majority * total

    @property
    def quorum_out_of_reach(self) -> bool:
        return self.cast + self.remaining < self.quorum


def vote_tally(change: Change) -> Tally:
    """Where the votes of the current round stand (see cab_services for the rule)."""
    eligible = eligible_voter_ids(change)
    votes = Vote.objects.filter(change=change, round=change.vote_round).values_list(
        "voter_id", "decision"
    )
    counted = {voter: decision for voter, decision in votes if voter in eligible}
    approvals = sum(1 for decision in counted.values() if decision == VoteDecision.APPROVE)
    body = change.approval_body if change.approver in (BodyKind.CAB, BodyKind.ECAB) else None
    missing = []
    if body is not None:
        for label, members in (
            ("business", body.business_members.values_list("pk", flat=True)),
            ("technical", body.technical_members.values_list("pk", flat=True)),
        ):
            required = set(members)
            if required and not required & set(counted):
                missing.append(label)
    return Tally(
        eligible=len(eligible),
        cast=len(counted),
        approvals=approvals,
        rejections=len(counted) - approvals,
        remaining=len(eligible - set(counted)),
        quorum=body.quorum if body else 1,
        majority=Decimal(body.majority) if body else Decimal("0.5"),
        missing_required=missing,
    )


def votes_of_round(change: Change) -> QuerySet[Vote]:
    """The votes of the RFC's current round, oldest first, with their voters."""
    return Vote.objects.filter(change=change, round=change.vote_round).select_related("voter")


def waiting_for_body(body: ApprovalBody) -> QuerySet[Change]:
    """RFCs awaiting a decision of `body`, the oldest submitted first (a meeting's agenda)."""
    return Change.objects.filter(status=ChangeStatus.SUBMITTED, approval_body=body).order_by(
        "submitted_at", "pk"
    )


def cab_pending_for(user) -> QuerySet[Change]:
    """RFCs awaiting this user's vote: submitted, sent to a body they sit on (or to them as
    owner of a CI), not raised by them, not yet voted on by them in the current round."""
    if not user.is_authenticated:
        return Change.objects.none()
    eligible = Q(approver=BodyKind.CI_OWNER) & Q(
        Exists(ConfigurationItem.objects.filter(changes=OuterRef("pk"), owner=user).values("pk"))
    )
    if user.has_perm("changes.vote_change"):
        named = ApprovalBody.members.through.objects.filter(approvalbody_id=OuterRef("pk"))
        bodies = ApprovalBody.objects.filter(
            Q(members=user) | (~Exists(named) & Q(group__in=user.groups.all()))
        ).values("pk")
        eligible |= Q(approver__in=[BodyKind.CAB, BodyKind.ECAB], approval_body__in=bodies)
    voted = Vote.objects.filter(change=OuterRef("pk"), voter=user, round=OuterRef("vote_round"))
    return (
        change_list_queryset()
        .filter(eligible, status=ChangeStatus.SUBMITTED)
        .exclude(originator=user)
        .exclude(Exists(voted))
        .order_by("submitted_at", "pk")
    )


# --- the calendar: blackouts and conflicts --------------------------------------------------


def blackouts_overlapping(start: dt.datetime, end: dt.datetime) -> QuerySet[Blackout]:
    """Blackout periods that overlap `start` to `end`, whatever their scope."""
    return Blackout.objects.filter(start__lt=end, end__gt=start).order_by("start", "pk")


def _applies_to(ci_ids: set[int], type_ids: set[int]) -> Q:
    scoped_cis = Blackout.cis.through.objects.filter(blackout_id=OuterRef("pk"))
    scoped_types = Blackout.ci_types.through.objects.filter(blackout_id=OuterRef("pk"))
    everything = ~Exists(scoped_cis) & ~Exists(scoped_types)
    return (
        everything
        | Exists(scoped_cis.filter(configurationitem_id__in=ci_ids))
        | Exists(scoped_types.filter(citype_id__in=type_ids))
    )


def blackouts_for_cis(ci_ids: set[int], start: dt.datetime, end: dt.datetime) -> QuerySet[Blackout]:
    """Blackouts overlapping the window that apply to any of these CIs (or to everything)."""
    type_ids = set(
        ConfigurationItem.objects.filter(pk__in=ci_ids).values_list("ci_type_id", flat=True)
    )
    return blackouts_overlapping(start, end).filter(_applies_to(set(ci_ids), type_ids))


def blackouts_for_change(change: Change, start: dt.datetime, end: dt.datetime):
    """Blackouts overlapping `start` to `end` that apply to the RFC's CIs."""
    ci_ids = set(change.cis.values_list("pk", flat=True))
    return blackouts_for_cis(ci_ids, start, end)


def window_of(change: Change) -> tuple[dt.datetime, dt.datetime]:
    """The planned window of a change on the calendar (which always has one)."""
    start, end = change.planned_start, change.planned_end
    if start is None or end is None:
        raise ValueError(f"{change.number} has no planned window")
    return start, end


def calendar_changes(start: dt.datetime, end: dt.datetime) -> QuerySet[Change]:
    """Changes on the calendar (approved, scheduled, implemented) whose window overlaps."""
    return (
        Change.objects.filter(
            status__in=ON_CALENDAR,
            planned_start__isnull=False,
            planned_end__isnull=False,
            planned_start__lt=end,
            planned_end__gt=start,
        )
        .select_related("originator", "implementer")
        .order_by("planned_start", "pk")
    )


def changes_in_blackout(start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
    """Changes on the calendar in `start` to `end` whose window falls in a blackout that applies
    to them: `[{"change": Change, "blackouts": [Blackout, …]}]`."""
    blackouts = list(blackouts_overlapping(start, end).prefetch_related("cis", "ci_types"))
    if not blackouts:
        return []
    changes = list(calendar_changes(start, end).prefetch_related("cis"))
    found = []
    for change in changes:
        cis = list(change.cis.all())
        ci_ids = {ci.pk for ci in cis}
        type_ids = {ci.ci_type_id for ci in cis}
        hits = []
        for blackout in blackouts:
            begins, ends = window_of(change)
            if not (blackout.start < ends and blackout.end > begins):
                continue
            scope_cis = {ci.pk for ci in blackout.cis.all()}
            scope_types = {t.pk for t in blackout.ci_types.all()}
            if (not scope_cis and not scope_types) or scope_cis & ci_ids or scope_types & type_ids:
                hits.append(blackout)
        if hits:
            found.append({"change": change, "blackouts": hits})
    return found


def _brief(change: Change) -> dict[str, Any]:
    return {
        "id": change.pk,
        "number": change.number,
        "title": change.title,
        "status": change.status,
        "planned_start": change.planned_start,
        "planned_end": change.planned_end,
    }


def _touching(change_ids: set[int]) -> dict[int, dict[int, int]]:
    """change id → {ci id: depth}: the stored impact set, and the RFC's own CIs at depth 0."""
    touched: dict[int, dict[int, int]] = defaultdict(dict)
    for change_id, ci_id, depth in ChangeImpact.objects.filter(
        change_id__in=change_ids
    ).values_list("change_id", "ci_id", "depth"):
        touched[change_id][ci_id] = depth
    for change_id, ci_id in Change.cis.through.objects.filter(change_id__in=change_ids).values_list(
        "change_id", "configurationitem_id"
    ):
        touched[change_id][ci_id] = 0
    return touched


def _pair_conflicts(
    a: Change, b: Change, cis: dict[int, tuple[int, int]], names: dict[int, str]
) -> dict[str, Any]:
    same = sorted(ci for ci, (da, db) in cis.items() if da == 0 and db == 0)
    return {
        "kind": "same_ci" if same else "impact_overlap",
        "changes": [_brief(a), _brief(b)],
        "cis": [
            {"id": ci, "name": names.get(ci, ""), "depths": list(cis[ci])}
            for ci in (same or sorted(cis))
        ][:50],
        "overlap": {
            "start": max(window_of(a)[0], window_of(b)[0]),
            "end": min(window_of(a)[1], window_of(b)[1]),
        },
    }


def conflicts(start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    """Conflicts on the calendar in `start` to `end`: pairs of changes in overlapping windows that
    touch the same CI (`same_ci`) or whose impact sets overlap (`impact_overlap`), and changes
    inside a blackout that applies to them. At most MAX_CONFLICTS pairs (`truncated` says)."""
    changes = {c.pk: c for c in calendar_changes(start, end)}
    touched = _touching(set(changes))
    by_ci: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for change_id, cis in touched.items():
        for ci_id, depth in cis.items():
            by_ci[ci_id].append((change_id, depth))
    pairs: dict[tuple[int, int], dict[int, tuple[int, int]]] = defaultdict(dict)
    truncated = False
    for ci_id, users in by_ci.items():
        if len(users) < 2:
            continue
        users.sort()
        for i, (ca, da) in enumerate(users):
            a_start, a_end = window_of(changes[ca])
            for cb, db in users[i + 1 :]:
                b_start, b_end = window_of(changes[cb])
                if a_start < b_end and b_start < a_end:
                    if (ca, cb) not in pairs and len(pairs) >= MAX_CONFLICTS:
                        truncated = True
                        continue
                    pairs[(ca, cb)][ci_id] = (da, db)
    ci_ids = {ci for cis in pairs.values() for ci in cis}
    names = dict(ConfigurationItem.objects.filter(pk__in=ci_ids).values_list("pk", "name"))
    found = [
        _pair_conflicts(changes[a], changes[b], cis, names) for (a, b), cis in sorted(pairs.items())
    ]
    blackout_hits = [
        {
            "kind": "blackout",
            "change": _brief(hit["change"]),
            "blackouts": [_blackout_brief(b) for b in hit["blackouts"]],
        }
        for hit in changes_in_blackout(start, end)
    ]
    return {"conflicts": found, "blackouts": blackout_hits, "truncated": truncated}


def _blackout_brief(blackout: Blackout) -> dict[str, Any]:
    return {"id": blackout.pk, "name": blackout.name, "start": blackout.start, "end": blackout.end}


def conflicts_for(
    change: Change, start: dt.datetime | None = None, end: dt.datetime | None = None
) -> dict[str, Any]:
    """What the RFC would clash with in `start` to `end` (default: its planned window): other
    changes on the calendar touching its CIs or its impact set, and blackouts that apply."""
    start = start or change.planned_start
    end = end or change.planned_end
    if start is None or end is None:
        return {"conflicts": [], "blackouts": [], "truncated": False}
    mine_rows = ChangeImpact.objects.filter(change_id=change.pk)
    own = set(change.cis.order_by().values_list("pk", flat=True))
    # Other changes in the window sharing a CI with this one's impact set (or its own CIs when
    # the impact was not computed yet): a semi-join in the database, the few matches back.
    mine_ids = mine_rows.values("ci_id") if mine_rows.exists() else list(own)
    # The changes in the window first (few: an index range), then their rows that share a CI.
    in_window = list(
        calendar_changes(start, end).exclude(pk=change.pk).order_by().values_list("pk", flat=True)
    )
    rows = (
        ChangeImpact.objects.filter(change_id__in=in_window, ci_id__in=mine_ids)
        .order_by()
        .values_list("change_id", "ci_id", "depth")
    )
    matched = list(rows) if in_window else []
    shared = {ci_id for _, ci_id, _ in matched}
    mine = dict(mine_rows.filter(ci_id__in=shared).values_list("ci_id", "depth"))
    mine.update(dict.fromkeys(own & shared, 0))
    others: dict[int, dict[int, tuple[int, int]]] = defaultdict(dict)
    for other_id, ci_id, depth in matched:
        others[other_id][ci_id] = (mine.get(ci_id, 0), depth)
    truncated = len(others) > MAX_CONFLICTS
    ids = sorted(others)[:MAX_CONFLICTS]
    other_changes = Change.objects.in_bulk(ids)
    ci_ids = {ci for oid in ids for ci in others[oid]}
    names = dict(ConfigurationItem.objects.filter(pk__in=ci_ids).values_list("pk", "name"))
    window = Change(planned_start=start, planned_end=end, pk=change.pk, number=change.number,
                    title=change.title, status=change.status)  # fmt: skip
    found = [_pair_conflicts(window, other_changes[oid], others[oid], names) for oid in ids]
    blackouts = [_blackout_brief(b) for b in blackouts_for_cis(own, start, end)]
    return {"conflicts": found, "blackouts": blackouts, "truncated": truncated}


# --- review and metrics ---------------------------------------------------------------------


def suspect_hours() -> int:
    return int(getattr(settings, "CHANGES_SUSPECT_HOURS", 48))


def suspected_incidents(change: Change, *, hours: int | None = None) -> QuerySet[Incident]:
    """Incidents on the changed CIs or their impact set, logged from the start of the change's
    window (or its implementation) until `hours` (default CHANGES_SUSPECT_HOURS, 48) after its
    end: candidates for the review's "caused incidents"."""
    hours = suspect_hours() if hours is None else hours
    start = change.planned_start or change.implemented_at or change.submitted_at
    end = change.planned_end or change.implemented_at or start
    if start is None or end is None:
        return Incident.objects.none()
    ci_ids = set(change.cis.values_list("pk", flat=True)) | set(
        change.impact.values_list("ci_id", flat=True)
    )
    return (
        Incident.objects.filter(
            cis__in=ci_ids, created__gte=start, created__lte=end + dt.timedelta(hours=hours)
        )
        .distinct()
        .order_by("created", "pk")
    )


def change_metrics(start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    """Change metrics over `start` to `end`: of RFCs submitted in it, the share of emergency
    changes; of those implemented in it, the success rate (reviewed successful / reviewed),
    the mean lead time (submitted → implemented, hours) and how many caused incidents."""
    submitted = Change.objects.filter(submitted_at__gte=start, submitted_at__lt=end)
    total = submitted.count()
    emergency = submitted.filter(change_type=ChangeType.EMERGENCY).count()
    implemented = Change.objects.filter(implemented_at__gte=start, implemented_at__lt=end)
    rows = list(implemented.values_list("submitted_at", "implemented_at", "outcome"))
    reviewed = [outcome for _, _, outcome in rows if outcome]
    successes = sum(1 for outcome in reviewed if outcome == ReviewOutcome.SUCCESSFUL)
    leads = [(i - s).total_seconds() / 3600 for s, i, _ in rows if s and i]
    causing = implemented.filter(caused_incidents__isnull=False).distinct().count()
    return {
        "start": start,
        "end": end,
        "submitted": total,
        "emergency": emergency,
        "emergency_ratio": round(emergency / total, 4) if total else None,
        "implemented": len(rows),
        "reviewed": len(reviewed),
        "successful": successes,
        "success_rate": round(successes / len(reviewed), 4) if reviewed else None,
        "mean_lead_time_hours": round(sum(leads) / len(leads), 2) if leads else None,
        "causing_incidents": causing,
        "causing_incidents_ratio": round(causing / len(rows), 4) if rows else None,
    }


def default_metrics_period() -> tuple[dt.datetime, dt.datetime]:
    """The last 90 days up to now."""
    end = timezone.now()
    return end - dt.timedelta(days=90), end
