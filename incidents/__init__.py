"""Incident and problem management: incidents, problems, known errors, SLAs, trends."""
