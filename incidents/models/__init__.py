"""Tables of the service desk, one module per concern (incidents, SLAs, problems, trends)."""

from .incident import Incident

__all__ = ["Incident"]
