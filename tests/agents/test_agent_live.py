"""The real agent program against a real local server: enrol, report, survive an outage."""

from __future__ import annotations

import json
import socket

import pytest

from agents.choices import ReportStatus
from agents.client import cli
from agents.client.transport import RetryPolicy
from agents.models import Agent, InventoryReport
from agents.services import enrollment_token_create
from cmdb.history import ChangeContext
from cmdb.models import ConfigurationItem, InstalledSoftware
from itsm import roles

pytestmark = pytest.mark.django_db(transaction=True)  # reference data: conftest


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def fast_retries(monkeypatch):
    monkeypatch.setattr(RetryPolicy.__init__, "__defaults__", (1, 0.01, 0.02))


def test_agent_enrols_reports_and_its_spool_survives_an_outage(
    live_server, tmp_path, make_user, fast_retries, capsys
):
    manager = make_user(roles.CMDB_MANAGER)
    token, _ = enrollment_token_create(context=ChangeContext(actor=manager), auto_approve=True)
    state = ["--state-dir", str(tmp_path / "agent")]

    assert cli.main(["enroll", "--server", live_server.url, "--token", token, *state]) == 0
    agent = Agent.objects.get()
    assert agent.status == "active"

    # The server is unreachable: the report waits in the local spool.
    down = f"http://127.0.0.1:{closed_port()}"
    assert cli.main(["run", "--once", "--server", down, *state]) != 0
    spooled = list((tmp_path / "agent" / "spool").glob("*.json"))
    assert len(spooled) == 1
    assert InventoryReport.objects.count() == 0

    # Back online: the spooled report and the new one are both delivered, oldest first.
    assert cli.main(["run", "--once", *state]) == 0
    assert list((tmp_path / "agent" / "spool").glob("*.json")) == []
    reports = list(InventoryReport.objects.order_by("id"))
    assert len(reports) == 2
    assert all(r.status == ReportStatus.PROCESSED for r in reports), [r.error for r in reports]
    first, second = (json.loads(bytes(r.body)) for r in reports)
    assert first["collected_at"] <= second["collected_at"]

    ci = ConfigurationItem.objects.get()
    assert ci.hostname == socket.gethostname().lower().rstrip(".")
    assert InstalledSoftware.objects.filter(ci=ci).exists()  # dpkg packages of this machine
    assert reports[1].summary["changed_sections"] in (
        [],
        ["storage"],
        ["storage", "events"],
        ["events"],
    )
    agent.refresh_from_db()
    assert agent.ci == ci and agent.last_report_at

    capsys.readouterr()
    assert cli.main(["rotate-key", *state]) == 0
    assert cli.main(["run", "--once", *state]) == 0
    assert InventoryReport.objects.count() == 3


def test_send_delivers_an_inventory_made_by_a_fusioninventory_agent(
    live_server, tmp_path, make_user, fast_retries
):
    """`itsm-agent send` ships a FusionInventory XML file, signed, to the same CMDB records."""
    from tests.samples import SAMPLES

    manager = make_user(roles.CMDB_MANAGER)
    token, _ = enrollment_token_create(context=ChangeContext(actor=manager), auto_approve=True)
    state = ["--state-dir", str(tmp_path / "agent")]
    assert cli.main(["enroll", "--server", live_server.url, "--token", token, *state]) == 0

    xml = SAMPLES / "fusion-xml" / "invfmt-tests-data-1.xml"
    assert cli.main(["send", str(xml), *state]) == 0
    report = InventoryReport.objects.get()
    assert (report.format, report.status) == ("fusion-xml", ReportStatus.PROCESSED), report.error
    assert ConfigurationItem.objects.get().hostname == "lf014"

    garbage = tmp_path / "notes.txt"
    garbage.write_text("not an inventory")
    assert cli.main(["send", str(garbage), *state]) == cli.EXIT_ERROR
    assert list((tmp_path / "agent" / "spool").glob("*.json")) == []
    assert InventoryReport.objects.count() == 1
