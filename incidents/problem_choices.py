"""Enumerations of problem management and trend analysis, with the problem's allowed moves.

Kept beside `choices.py` (incidents) so the two state machines merge independently.
"""

from django.db import models


class ProblemStatus(models.TextChoices):
    """Where a problem stands. `closed` and `cancelled` are final."""

    NEW = "new", "New"
    UNDER_INVESTIGATION = "under_investigation", "Under investigation"
    KNOWN_ERROR = "known_error", "Known error"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"
    CANCELLED = "cancelled", "Cancelled"


#: Allowed moves of a problem. A resolved problem may be reopened for investigation (the fix did
#: not hold) until it is closed.
PROBLEM_TRANSITIONS: dict[str, frozenset[str]] = {
    ProblemStatus.NEW: frozenset(
        {
            ProblemStatus.UNDER_INVESTIGATION,
            ProblemStatus.KNOWN_ERROR,
            ProblemStatus.RESOLVED,
            ProblemStatus.CANCELLED,
        }
    ),
    ProblemStatus.UNDER_INVESTIGATION: frozenset(
        {ProblemStatus.KNOWN_ERROR, ProblemStatus.RESOLVED, ProblemStatus.CANCELLED}
    ),
    ProblemStatus.KNOWN_ERROR: frozenset({ProblemStatus.RESOLVED, ProblemStatus.CANCELLED}),
    ProblemStatus.RESOLVED: frozenset({ProblemStatus.CLOSED, ProblemStatus.UNDER_INVESTIGATION}),
    ProblemStatus.CLOSED: frozenset(),
    ProblemStatus.CANCELLED: frozenset(),
}

#: Statuses in which a problem is still being worked on (incidents may be linked, causes
#: recorded).
PROBLEM_OPEN_STATUSES: frozenset[str] = frozenset(
    {ProblemStatus.NEW, ProblemStatus.UNDER_INVESTIGATION, ProblemStatus.KNOWN_ERROR}
)


def problem_allowed_moves(status: str) -> list[str]:
    """The statuses a problem in `status` may move to, in the enumeration's order."""
    allowed = PROBLEM_TRANSITIONS.get(status, frozenset())
    return [value for value in ProblemStatus.values if value in allowed]


class TrendDimension(models.TextChoices):
    """What incident counts are grouped by in the trend report."""

    CATEGORY = "category", "Category"
    CAUSE = "cause", "Cause"
    CI_TYPE = "ci_type", "CI type"
    DEPARTMENT = "department", "Department"
    RESOLUTION_METHOD = "resolution_method", "Resolution method"


class TrendPeriod(models.TextChoices):
    DAY = "day", "Day"
    WEEK = "week", "Week"
    MONTH = "month", "Month"
