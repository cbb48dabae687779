"""Tables of the service desk, one module per concern (incidents, SLAs, problems, trends)."""

from .incident import Incident, QuickLogTemplate, WorkLogEntry
from .saved_filter import SavedFilter
from .sla import (
    BusinessCalendar,
    CalendarHoliday,
    EscalationFired,
    EscalationRule,
    SlaPolicy,
    WorkingHours,
)

__all__ = [
    "BusinessCalendar",
    "CalendarHoliday",
    "EscalationFired",
    "EscalationRule",
    "Incident",
    "QuickLogTemplate",
    "SavedFilter",
    "SlaPolicy",
    "WorkLogEntry",
    "WorkingHours",
]

from .problem import KnownError, Problem
from .trends import IncidentDailyCount, TrendWatermark

__all__ += ["IncidentDailyCount", "KnownError", "Problem", "TrendWatermark"]
