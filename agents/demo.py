"""Demo agents for `manage.py seed_demo`: a few machines enrol and report through the real path.

Each demo agent gets a fresh Ed25519 key, enrols with a one-time token through `EnrollView`,
and posts itsm-inventory/1 reports generated here (a fresh clone has no sample files), signed
like the agent program signs them (`agents.client.signing`), through `ReportView`: signature,
nonce, schema, storage and processing all run as for a real machine. So the agent list, the
report inbox, discrepancies and the CMDB health page have content.

Registered in `AgentsConfig.ready()` as a `cmdb.demo.extensions` step: `cmdb` does not import
`agents`. Idempotent: an agent that already exists (by name) is left alone, so a second run
sends nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.contrib.auth import get_user_model
from django.urls import reverse

from cmdb.choices import ChangeSource, CIStatus
from cmdb.history import ChangeContext
from cmdb.models import ConfigurationItem, InstalledSoftware, NetworkInterface, StorageVolume
from itsm.exceptions import ApplicationError

from . import binding, services
from .choices import DiscrepancyKind, DiscrepancyStatus, ReportStatus
from .models import Agent, Discrepancy, InventoryReport

FORMAT = "itsm-inventory/1"
HOST = "testserver"

#: Installed on one demo machine after its first inventory, outside any change or release.
UNAPPROVED = {"name": "AnyDesk", "version": "8.1.0", "vendor": "AnyDesk Software GmbH"}


@dataclass
class DemoMachine:
    """What a demo agent reports: the device, its software, and the address it sends from."""

    agent_name: str
    device: dict[str, Any]
    software: list[dict[str, str]]
    address: str
    reports: list[Callable[[dict], dict]] = field(default_factory=list)
    network: list[dict[str, Any]] = field(default_factory=list)
    storage: list[dict[str, Any]] = field(default_factory=list)


def _device_of(ci: ConfigurationItem) -> dict[str, Any]:
    attributes = ci.attributes or {}
    device = {
        "hostname": ci.hostname or ci.name,
        "uuid": ci.uuid,
        "serial_number": ci.serial_number,
        "manufacturer": attributes.get("manufacturer") or "Dell Inc.",
        "model": attributes.get("model") or "OptiPlex 7010",
        "os": {
            "name": attributes.get("os") or "Debian GNU/Linux",
            "version": str(attributes.get("os_version") or "12"),
            "kernel": attributes.get("kernel") or "6.1.0-26-amd64",
        },
        "cpu": {"model": attributes.get("cpu_model") or "Intel Core i5", "cores": 4, "threads": 8},
    }
    if isinstance(attributes.get("cpu_cores"), int):
        device["cpu"]["cores"] = attributes["cpu_cores"]
    if isinstance(attributes.get("memory_mb"), int):
        device["memory_mb"] = attributes["memory_mb"]
    return {k: v for k, v in device.items() if v not in ("", None)}


def _software_of(ci: ConfigurationItem) -> list[dict[str, str]]:
    """What the CMDB says is installed, so a first report confirms it."""
    rows = (
        InstalledSoftware.objects.filter(ci=ci)
        .order_by("software__product__name", "software__version")
        .values_list("software__product__name", "software__version", "software__product__vendor")
    )
    return [{"name": n, "version": v, "vendor": vendor} for n, v, vendor in rows]


def _network_of(ci: ConfigurationItem, address: str) -> list[dict[str, Any]]:
    rows = NetworkInterface.objects.filter(ci=ci).order_by("name")
    found = [
        {"name": r.name, "mac": r.mac or None, "ipv4": r.ipv4 or [], "ipv6": r.ipv6 or []}
        for r in rows
    ]
    octet = int(address.rsplit(".", 1)[1])
    return found or [
        {"name": "eth0", "mac": f"52:54:00:de:{octet:02x}:01", "ipv4": [address], "ipv6": []}
    ]


def _storage_of(ci: ConfigurationItem) -> list[dict[str, Any]]:
    rows = StorageVolume.objects.filter(ci=ci).order_by("mount")
    found = [
        {
            "mount": r.mount,
            "device": r.device or None,
            "filesystem": r.filesystem or None,
            "size_mb": r.size_mb,
            "used_mb": r.used_mb,
        }
        for r in rows
    ]
    # A first report adding disks to a known machine would rightly raise a discrepancy.
    return found


def _pick(slug: str, count: int) -> list[ConfigurationItem]:
    return list(
        ConfigurationItem.objects.filter(ci_type__slug=slug, status=CIStatus.PRODUCTION)
        .exclude(uuid="")
        .exclude(serial_number="")
        .exclude(hostname="")
        .order_by("name")[:count]
    )


def demo_machines() -> list[DemoMachine]:
    """The demo agents: two servers, a laptop and a desktop of the CMDB.

    The first server reports more memory than the CMDB records (a hardware discrepancy); the
    laptop reports twice, the second time with software nobody approved (another one).
    """
    machines = []
    servers, laptops = _pick("server", 2), _pick("laptop", 1)
    for index, ci in enumerate([*servers, *laptops, *_pick("desktop", 1)]):
        address = f"192.0.2.{10 + index}"
        machine = DemoMachine(
            agent_name=ci.hostname,
            device=_device_of(ci),
            software=_software_of(ci),
            address=address,
            network=_network_of(ci, address),
            storage=_storage_of(ci),
        )
        machine.reports.append(lambda report: report)
        machines.append(machine)
    if servers:
        first = machines[0]
        memory = first.device.get("memory_mb") or 16384
        first.reports = [lambda report, memory=memory: _with_memory(report, memory * 2)]
    if laptops:
        machines[len(servers)].reports.append(_with_unapproved_software)
    return machines


def _with_memory(report: dict, memory_mb: int) -> dict:
    report["device"]["memory_mb"] = memory_mb
    return report


def _with_unapproved_software(report: dict) -> dict:
    report["software"] = [*report["software"], UNAPPROVED]
    return report


def inventory_report(machine: DemoMachine, *, index: int = 0) -> dict[str, Any]:
    """An itsm-inventory/1 report of `machine`, as the agent program would collect it."""
    return {
        "format": FORMAT,
        "collected_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "agent": {"version": "demo", "report": index + 1},
        "device": json.loads(json.dumps(machine.device)),
        "network": json.loads(json.dumps(machine.network)),
        "storage": json.loads(json.dumps(machine.storage)),
        "software": list(machine.software),
        "security": {"firewall_enabled": True},
        "events": [],
    }


class DemoAgentError(ApplicationError):
    """The server refused a demo request: the demo would be missing its agents."""


def _post(view_name: str, body: bytes, *, address: str, signer: Any):
    """POST through the real view (RequestFactory: no network, no test-only settings)."""
    from django.test import RequestFactory

    from .api.views import EnrollView, ReportView
    from .client.signing import build_request

    path = reverse(view_name)
    prepared = build_request("POST", f"http://{HOST}{path}", body=body, signer=signer)
    meta = {
        "HTTP_" + name.upper().replace("-", "_"): value
        for name, value in prepared.headers.items()
        if name.lower() not in ("content-type", "content-length")
    }
    request = RequestFactory().generic(
        "POST",
        path,
        data=body,
        content_type="application/json",
        REMOTE_ADDR=address,
        SERVER_NAME=HOST,
        **meta,
    )
    if view_name == "agent-enroll":
        # The per-address throttle guards the network; it would refuse a demo seeded often.
        view = EnrollView.as_view(throttle_classes=[])
    else:
        view = ReportView.as_view()
    response = view(request)
    response.render()
    return response


def _admin():
    user_model = get_user_model()
    return user_model.objects.filter(is_superuser=True, is_active=True).order_by("pk").first()


def _approve_if_held(report_id: int, context: ChangeContext) -> None:
    """A demo machine is already in the CMDB, so its new key's first report is held (a key
    binds to a known CI only with a CMDB Manager's approval): approve it, as one would."""
    report = InventoryReport.objects.get(pk=report_id)
    if report.status != ReportStatus.HELD:
        return
    hold = Discrepancy.objects.get(
        kind=DiscrepancyKind.IDENTITY_HOLD,
        status=DiscrepancyStatus.OPEN,
        key=report.agent.key_id,
    )
    binding.binding_approve(
        context=replace(context, reason="demo: the machine's agent, installed by IT"),
        discrepancy_id=hold.pk,
    )


def seed_agents(**_: Any) -> dict[str, int]:
    """Enrol the demo agents that do not exist yet and send their reports; returns counts."""
    from .client.keys import public_key_b64
    from .client.signing import RequestSigner

    created = {"agents": 0, "reports": 0, "discrepancies": 0}
    open_before = Discrepancy.objects.filter(status=DiscrepancyStatus.OPEN).count()
    existing = set(Agent.objects.values_list("name", flat=True))
    context = ChangeContext(actor=_admin(), source=ChangeSource.SYSTEM, source_ref="seed_demo")
    for machine in demo_machines():
        if machine.agent_name in existing:
            continue
        key = Ed25519PrivateKey.generate()
        secret, _ = services.enrollment_token_create(
            context=context, expires_in_hours=1, auto_approve=True, note="demo agent"
        )
        body = json.dumps(
            {
                "enrollment_token": secret,
                "name": machine.agent_name,
                "public_key": public_key_b64(key),
            }
        ).encode()
        response = _post("agent-enroll", body, address=machine.address, signer=None)
        if response.status_code != 201:
            raise DemoAgentError(f"enrolment of {machine.agent_name}: {response.data}")
        signer = RequestSigner(response.data["key_id"], key)
        created["agents"] += 1
        for index, change in enumerate(machine.reports):
            report = change(inventory_report(machine, index=index))
            body = json.dumps(report, separators=(",", ":")).encode()
            response = _post("agent-reports", body, address=machine.address, signer=signer)
            if response.status_code != 202:
                raise DemoAgentError(f"report of {machine.agent_name}: {response.data}")
            # Processed now, whatever the broker: a queued copy finds it done (SKIP LOCKED).
            report_id = response.data["report_id"]
            services.report_process(report_id=report_id)
            _approve_if_held(report_id, context)
            created["reports"] += 1
    created["discrepancies"] = max(
        0, Discrepancy.objects.filter(status=DiscrepancyStatus.OPEN).count() - open_before
    )
    return created


def seed_demo_step() -> list[tuple[str, int, int]]:
    """The `cmdb.demo.extensions` step: summary rows (label, created, total)."""
    created = seed_agents()
    return [
        ("agents", created["agents"], Agent.objects.count()),
        ("inventory reports", created["reports"], InventoryReport.objects.count()),
        (
            "open discrepancies",
            created["discrepancies"],
            Discrepancy.objects.filter(status=DiscrepancyStatus.OPEN).count(),
        ),
    ]
