"""Helpers of the problem-management tests: incidents, problems and known errors made through
the services where they exist."""

from __future__ import annotations

from incidents import problem_services
from incidents.models import Incident
from itsm.audit import ChangeContext

SYSTEM = ChangeContext(source="system", source_ref="tests")
_counter = {"n": 0}


def make_incident(*, cis=(), status: str = "new", **fields) -> Incident:
    """An incident row (the incident workflow is another module's: only its table is used)."""
    _counter["n"] += 1
    fields.setdefault("title", f"Incident {_counter['n']}")
    incident = Incident.objects.create(
        number=f"TST-{Incident.objects.count() + _counter['n']:07d}", status=status, **fields
    )
    if cis:
        incident.cis.set(list(cis))
    return incident


def make_problem(*, incidents=(), context: ChangeContext = SYSTEM, **fields):
    fields.setdefault("title", "Printers jam after the driver update")
    return problem_services.problem_create(context=context, incidents=incidents, **fields)


def make_known_error(*, context: ChangeContext = SYSTEM, **fields):
    fields.setdefault("title", "Printer jams on duplex printing")
    return problem_services.known_error_create(context=context, **fields)
