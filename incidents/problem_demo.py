"""Demo data of problem management, a `cmdb.demo.extensions` step (after the incidents'):
a problem raised from the demo's VPN incident with its cause recorded and published as a
known error, a second known error for the printers, and the trend summary refreshed.
Idempotent: a second run creates nothing."""

from __future__ import annotations

from cmdb.history import ChangeContext

from . import problem_services, trends
from .models import Incident, KnownError, Problem

DEMO = ChangeContext(source="system", source_ref="demo")
PROBLEM_TITLE = "VPN tunnels drop when the key is renegotiated"
PRINTER_KNOWN_ERROR = "Printer jams on duplex printing"


def seed_problems() -> dict[str, int]:
    created = {"problems": 0, "known errors": 0}
    if not Problem.objects.filter(title=PROBLEM_TITLE).exists():
        incidents = Incident.objects.filter(title__icontains="VPN")
        problem = problem_services.problem_create(
            context=DEMO,
            title=PROBLEM_TITLE,
            description="Remote users lose the VPN every few minutes.",
            incidents=list(incidents),
        )
        problem_services.problem_record_cause(
            context=DEMO,
            problem_id=problem.pk,
            root_cause="The gateway's rekey interval is shorter than the clients' timeout.",
            workaround="Reconnect; or use the backup gateway vpn2.",
        )
        problem_services.problem_publish_known_error(
            context=DEMO,
            problem_id=problem.pk,
            symptoms="The VPN disconnects every few minutes and reconnects by itself.",
            publish=True,
        )
        created["problems"] += 1
        created["known errors"] += 1
    if not KnownError.objects.filter(title=PRINTER_KNOWN_ERROR).exists():
        problem_services.known_error_create(
            context=DEMO,
            title=PRINTER_KNOWN_ERROR,
            symptoms="Paper jams in the rear tray after the first page of a duplex job.",
            root_cause="Firmware 4.1 of the office printers feeds too early.",
            workaround="Print single-sided, or use tray 2.",
            category="Hardware",
            published=True,
        )
        created["known errors"] += 1
    trends.refresh()
    return created


def seed_demo_step() -> list[tuple[str, int, int]]:
    """The `cmdb.demo.extensions` step: summary rows (label, created, total)."""
    created = seed_problems()
    return [
        ("problems", created["problems"], Problem.objects.count()),
        ("known errors", created["known errors"], KnownError.objects.count()),
    ]
