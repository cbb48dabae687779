"""Tables of the service desk, one module per concern (incidents, SLAs, problems, trends)."""

from .incident import Incident

__all__ = ["Incident"]

from .problem import KnownError, Problem
from .trends import IncidentDailyCount, TrendWatermark

__all__ += ["IncidentDailyCount", "KnownError", "Problem", "TrendWatermark"]
