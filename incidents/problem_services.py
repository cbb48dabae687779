"""Writes of problem management: problems (create from incidents, link, record the cause,
publish as a known error, resolve — optionally resolving the open incidents too —, close,
cancel) and the known-error base. One transaction each, permission first, the problem row
locked, the move checked against `PROBLEM_TRANSITIONS`, every change audited."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from cmdb.models import CIType, ConfigurationItem
from itsm import numbering
from itsm.audit import ChangeContext, record
from itsm.exceptions import ApplicationError, ConflictError
from itsm.permissions import require_permission

from .choices import OPEN_STATUSES, ResolutionMethod
from .known_error_services import (  # noqa: F401 - offered here too
    KNOWN_ERROR_TEXT,
    known_error_create,
    known_error_update,
)
from .models import Incident, KnownError, Problem
from .problem_choices import (
    PROBLEM_OPEN_STATUSES,
    PROBLEM_TRANSITIONS,
    ProblemStatus,
    problem_allowed_moves,
)
from .status_services import incident_resolve

PROBLEM_SEQUENCE = "incidents_problem_number"
#: Fields of a problem `problem_update` may change (status moves through their own services).
PROBLEM_EDITABLE = ("title", "description", "priority", "owner")


# --- helpers ------------------------------------------------------------------------------


def _lock(problem_id: int, expected_version: int | None = None) -> Problem:
    try:
        problem = Problem.objects.select_for_update().get(pk=problem_id)
    except Problem.DoesNotExist:
        raise ApplicationError(f"No problem with id {problem_id}.") from None
    if expected_version is not None and problem.version != expected_version:
        raise ConflictError(
            "The problem was changed by someone else; reload it.",
            extra={"current_version": problem.version},
        )
    return problem


def _check_move(problem: Problem, to_status: str) -> None:
    if to_status not in PROBLEM_TRANSITIONS[problem.status]:
        current, target = ProblemStatus(problem.status).label, ProblemStatus(to_status).label
        allowed = ", ".join(ProblemStatus(s).label for s in problem_allowed_moves(problem.status))
        raise ApplicationError(
            f"A problem cannot move from {current} to {target}. "
            f"Allowed from {current}: {allowed or 'none, it is final'}.",
            extra={"status": problem.status, "allowed": problem_allowed_moves(problem.status)},
        )


def _move(problem: Problem, to_status: str, context: ChangeContext, kind: str, **extra) -> None:
    """Check the move, save it with `extra` field changes and record one audit entry."""
    _check_move(problem, to_status)
    changes: dict[str, Any] = {"status": {"old": problem.status, "new": to_status}}
    for field, value in extra.items():
        old = getattr(problem, field)
        if old != value:
            changes[field] = {"old": _plain(old), "new": _plain(value)}
        setattr(problem, field, value)
    problem.status = to_status
    problem.version += 1
    problem.save(update_fields=["status", "version", "updated", *extra])
    record(obj=problem, kind=kind, changes=changes, context=context)


def _plain(value: Any) -> Any:
    if hasattr(value, "pk"):
        return value.pk
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _require_open(problem: Problem, action: str) -> None:
    if problem.status not in PROBLEM_OPEN_STATUSES:
        raise ApplicationError(
            f"A {ProblemStatus(problem.status).label.lower()} problem cannot {action}.",
            extra={"status": problem.status},
        )


def _incidents(ids: Iterable[int | Incident]) -> list[Incident]:
    wanted = {i.pk if isinstance(i, Incident) else int(i) for i in ids}
    found = list(Incident.objects.filter(pk__in=wanted))
    missing = wanted - {i.pk for i in found}
    if missing:
        raise ApplicationError(
            f"Unknown incidents: {', '.join(map(str, sorted(missing)))}.",
            extra={"incidents": [f"Unknown incident id {m}." for m in sorted(missing)]},
        )
    return found


# --- problems -----------------------------------------------------------------------------


@transaction.atomic
def problem_create(
    *,
    context: ChangeContext,
    title: str,
    description: str = "",
    incidents: Iterable[int | Incident] = (),
    priority: int | None = None,
    owner: User | None = None,
) -> Problem:
    """Open a problem, usually from selected incidents (its priority defaults to the most urgent
    of theirs). Its number comes from the `incidents_problem_number` sequence."""
    require_permission(context, "incidents.add_problem")
    title = (title or "").strip()
    if not title:
        raise ApplicationError("A problem needs a title.", extra={"title": ["Required."]})
    linked = _incidents(incidents)
    if priority is None:
        priority = min((i.priority for i in linked), default=3)
    if not 1 <= int(priority) <= 5:
        raise ApplicationError("Priority is 1 to 5.", extra={"priority": ["1 to 5."]})
    problem = Problem(
        number=numbering.next_number(PROBLEM_SEQUENCE, "PRB"),
        title=title[:200],
        description=description,
        priority=int(priority),
        owner=owner,
    )
    problem.full_clean(exclude=["owner", "known_error"])
    problem.save()
    problem.incidents.set(linked)
    record(
        obj=problem,
        kind="created",
        changes={
            "title": {"old": None, "new": problem.title},
            "priority": {"old": None, "new": problem.priority},
            "incidents": {"added": sorted(i.pk for i in linked), "removed": []},
        },
        context=context,
    )
    return problem


@transaction.atomic
def problem_update(
    *,
    context: ChangeContext,
    problem_id: int,
    data: Mapping[str, Any],
    expected_version: int | None = None,
) -> Problem:
    """Change a problem's title, description, priority or owner (not its status)."""
    require_permission(context, "incidents.change_problem")
    unknown = set(data) - set(PROBLEM_EDITABLE)
    if unknown:
        raise ApplicationError(
            f"These fields cannot be changed here: {', '.join(sorted(unknown))}."
        )
    problem = _lock(problem_id, expected_version)
    changes = {}
    for field, value in data.items():
        old = getattr(problem, field)
        if old != value:
            changes[field] = {"old": _plain(old), "new": _plain(value)}
            setattr(problem, field, value)
    if not changes:
        return problem
    problem.full_clean(exclude=["owner", "known_error", "number"])
    problem.version += 1
    problem.save()
    record(obj=problem, kind="updated", changes=changes, context=context)
    return problem


@transaction.atomic
def problem_link_incidents(
    *,
    context: ChangeContext,
    problem_id: int,
    incidents: Iterable[int | Incident],
    unlink: Iterable[int | Incident] = (),
) -> Problem:
    """Link more incidents to an open problem (and unlink others)."""
    require_permission(context, "incidents.change_problem")
    problem = _lock(problem_id)
    _require_open(problem, "have incidents linked")
    added = _incidents(incidents)
    removed_ids = {i.pk if isinstance(i, Incident) else int(i) for i in unlink}
    current = set(problem.incidents.values_list("pk", flat=True))
    new_ids = sorted({i.pk for i in added} - current)
    gone_ids = sorted(removed_ids & current)
    if not new_ids and not gone_ids:
        return problem
    problem.incidents.add(*new_ids)
    problem.incidents.remove(*gone_ids)
    problem.version += 1
    problem.save(update_fields=["version", "updated"])
    record(
        obj=problem,
        kind="incidents",
        changes={"incidents": {"added": new_ids, "removed": gone_ids}},
        context=context,
    )
    return problem


@transaction.atomic
def problem_start_investigation(*, context: ChangeContext, problem_id: int) -> Problem:
    """new → under investigation (also reopens a resolved problem whose fix did not hold)."""
    require_permission(context, "incidents.change_problem")
    problem = _lock(problem_id)
    _move(problem, ProblemStatus.UNDER_INVESTIGATION, context, "status")
    return problem


@transaction.atomic
def problem_record_cause(
    *,
    context: ChangeContext,
    problem_id: int,
    root_cause: str,
    workaround: str | None = None,
    expected_version: int | None = None,
) -> Problem:
    """Record (or correct) the root cause and workaround. A new problem moves to under
    investigation."""
    require_permission(context, "incidents.change_problem")
    problem = _lock(problem_id, expected_version)
    _require_open(problem, "have its cause changed")
    root_cause = (root_cause or "").strip()
    if not root_cause:
        raise ApplicationError("Describe the root cause.", extra={"root_cause": ["Required."]})
    fields = {"root_cause": root_cause}
    if workaround is not None:
        fields["workaround"] = workaround.strip()
    if problem.status == ProblemStatus.NEW:
        _move(problem, ProblemStatus.UNDER_INVESTIGATION, context, "cause", **fields)
        return problem
    changes = {
        f: {"old": getattr(problem, f), "new": v}
        for f, v in fields.items()
        if getattr(problem, f) != v
    }
    if changes:
        for field, value in fields.items():
            setattr(problem, field, value)
        problem.version += 1
        problem.save(update_fields=[*fields, "version", "updated"])
        record(obj=problem, kind="cause", changes=changes, context=context)
    return problem


@transaction.atomic
def problem_publish_known_error(
    *,
    context: ChangeContext,
    problem_id: int,
    symptoms: str = "",
    solution: str = "",
    title: str | None = None,
    category: str | None = None,
    cis: Iterable[ConfigurationItem] | None = None,
    ci_types: Iterable[CIType] | None = None,
    publish: bool = True,
) -> KnownError:
    """Turn the problem's diagnosis into a known error (created, or updated if it has one) and
    move the problem to `known_error`. Needs a recorded root cause. `publish` makes it readable
    by end users. CIs, CI types and category default to those of the problem's incidents."""
    require_permission(context, "incidents.change_problem")
    require_permission(context, "incidents.add_knownerror")
    problem = _lock(problem_id)
    if not problem.root_cause.strip():
        raise ApplicationError(
            "Record the root cause before publishing a known error.",
            extra={"root_cause": ["Required."]},
        )
    if problem.status != ProblemStatus.KNOWN_ERROR:
        _check_move(problem, ProblemStatus.KNOWN_ERROR)
    incident_cis = ConfigurationItem.objects.filter(incidents__problems=problem).distinct()
    if cis is None:
        cis = list(incident_cis)
    if ci_types is None:
        ci_types = list(CIType.objects.filter(cis__in=incident_cis).distinct())
    if category is None:
        categories = (
            problem.incidents.exclude(category="").values_list("category", flat=True).distinct()
        )
        category = categories[0] if len(categories) == 1 else ""
    data: dict[str, Any] = {
        "title": title or problem.title,
        "symptoms": symptoms or problem.description,
        "root_cause": problem.root_cause,
        "workaround": problem.workaround,
        "solution": solution,
        "category": category,
        "published": publish,
    }
    if problem.known_error_id:
        known_error = known_error_update(
            context=context,
            known_error_id=problem.known_error_id,
            data=data,
            cis=cis,
            ci_types=ci_types,
        )
    else:
        known_error = known_error_create(context=context, cis=cis, ci_types=ci_types, **data)
    if problem.status != ProblemStatus.KNOWN_ERROR:
        _move(problem, ProblemStatus.KNOWN_ERROR, context, "known_error", known_error=known_error)
    elif problem.known_error_id != known_error.pk:
        problem.known_error = known_error
        problem.version += 1
        problem.save(update_fields=["known_error", "version", "updated"])
    return known_error


def problem_open_incidents(problem: Problem) -> list[Incident]:
    """The problem's incidents that are not resolved or closed yet (what resolving it offers
    to resolve)."""
    return list(problem.incidents.filter(status__in=OPEN_STATUSES).order_by("id"))


@transaction.atomic
def problem_resolve(
    *,
    context: ChangeContext,
    problem_id: int,
    resolution: str,
    resolve_incidents: bool = False,
    incident_ids: Iterable[int] | None = None,
    resolution_method: str = "",
    expected_version: int | None = None,
) -> Problem:
    """Resolve the problem (its cause is removed). With `resolve_incidents`, its open incidents
    are resolved too (all of them, or those of `incident_ids`), through the incidents' own
    `incident_resolve` service, in this same transaction: one refusal undoes everything."""
    require_permission(context, "incidents.change_problem")
    problem = _lock(problem_id, expected_version)
    resolution = (resolution or "").strip()
    if not resolution:
        raise ApplicationError(
            "Say how the problem was resolved.", extra={"resolution": ["Required."]}
        )
    _check_move(problem, ProblemStatus.RESOLVED)
    to_resolve: list[Incident] = []
    if resolve_incidents:
        open_incidents = problem_open_incidents(problem)
        if incident_ids is not None:
            wanted = {int(i) for i in incident_ids}
            strangers = wanted - {i.pk for i in open_incidents}
            if strangers:
                raise ApplicationError(
                    "These are not open incidents of this problem: "
                    + ", ".join(map(str, sorted(strangers))),
                    extra={"incidents": sorted(strangers)},
                )
            open_incidents = [i for i in open_incidents if i.pk in wanted]
        to_resolve = open_incidents
    _move(
        problem,
        ProblemStatus.RESOLVED,
        context,
        "resolved",
        resolution=resolution,
        resolved_at=context.at or timezone.now(),
    )
    for incident in to_resolve:
        _resolve_incident(context, incident, problem, resolution_method)
    return problem


def _resolve_incident(
    context: ChangeContext, incident: Incident, problem: Problem, resolution_method: str
) -> None:
    """Resolve one incident of a resolved problem through the incidents' own service (its
    permission, transition and resolution-method checks, audit entry and e-mail)."""
    incident_resolve(
        context=context,
        incident=incident,
        resolution_method=resolution_method or ResolutionMethod.FIX,
        resolution=f"Resolved with problem {problem.number}: {problem.resolution}",
    )


@transaction.atomic
def problem_close(*, context: ChangeContext, problem_id: int) -> Problem:
    """resolved → closed (final)."""
    require_permission(context, "incidents.change_problem")
    problem = _lock(problem_id)
    _move(problem, ProblemStatus.CLOSED, context, "closed", closed_at=context.at or timezone.now())
    return problem


@transaction.atomic
def problem_cancel(*, context: ChangeContext, problem_id: int) -> Problem:
    """Cancel an open problem (not a problem after all, or a duplicate); needs a reason."""
    require_permission(context, "incidents.change_problem")
    if not (context.reason or "").strip():
        raise ApplicationError(
            "Give a reason to cancel a problem.", extra={"reason": ["Required."]}
        )
    problem = _lock(problem_id)
    _move(
        problem,
        ProblemStatus.CANCELLED,
        context,
        "cancelled",
        closed_at=context.at or timezone.now(),
    )
    return problem
