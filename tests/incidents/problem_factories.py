"""Helpers of the problem-management tests: incidents, problems and known errors made through
the services where they exist."""

from __future__ import annotations

from incidents import problem_services, services
from incidents.models import Incident
from itsm.audit import ChangeContext

SYSTEM = ChangeContext(source="system", source_ref="tests")
_counter = {"n": 0}
OPEN_FIELDS = ("title", "description", "category", "cause", "department")


def make_incident(*, cis=(), **fields) -> Incident:
    """An incident logged through the incidents' service; `status`, `priority` and other
    fields the test needs are then set on the row (test set-up, not a workflow)."""
    _counter["n"] += 1
    opened = {k: fields.pop(k) for k in OPEN_FIELDS if k in fields}
    opened.setdefault("title", f"Incident {_counter['n']}")
    incident = services.incident_open(context=SYSTEM, cis=list(cis), **opened)
    if fields:
        Incident.objects.filter(pk=incident.pk).update(**fields)
        incident.refresh_from_db()
    return incident


def make_problem(*, incidents=(), context: ChangeContext = SYSTEM, **fields):
    fields.setdefault("title", "Printers jam after the driver update")
    return problem_services.problem_create(context=context, incidents=incidents, **fields)


def make_known_error(*, context: ChangeContext = SYSTEM, **fields):
    fields.setdefault("title", "Printer jams on duplex printing")
    return problem_services.known_error_create(context=context, **fields)
