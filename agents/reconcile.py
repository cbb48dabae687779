"""Reconciliation of a normalised inventory into the CMDB.

1. Match the report to a CI and check its key may update it (`matching.decide`: the key's
   bound CI, or a new CI for a machine the CMDB does not know; anything else is held).
2. Apply each section the report carries (`agents.sections`), as a diff, only where it changed
   since the last report (per-section hashes) and only to fields the agent owns (cmdb.FieldOwner).
3. Record history with the report as source; keep events; raise and close discrepancies.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

from cmdb import services as cmdb_services
from cmdb.choices import ChangeSource, CIStatus
from cmdb.history import ChangeContext, collected_history
from cmdb.models import CIType, ConfigurationItem
from cmdb.selectors import field_owners  # a CMDB read; `agents.reconcile.field_owners` still works

from .choices import COLLECTED_ITEM_TYPES, DiscrepancyKind, DiscrepancyStatus
from .discrepancies import discrepancy_close_open
from .inventory.identity import identity_keys
from .matching import (  # noqa: F401  (re-exported: importable from here as before)
    DEFAULT_MATCH_RULES,
    Hold,
    IdentityMismatch,
    ReportHeld,
    _lock_identities,
    _other_ci_with_identity,
    _rule_query,
    decide,
    find_ci,
)
from .models import Agent, InventoryReport, InventoryState
from .sections import (  # noqa: F401  (re-exported: importable from here as before)
    ATTRIBUTE_LIMIT,
    Outcome,
    _apply_events,
    _apply_fields,
    _apply_network,
    _apply_software,
    _apply_storage,
    _attribute_updates,
    _hardware_changes,
    _raise,
    agent_owns,
    section_hash,
    usable_hostname,
    usable_uuid,
)

VIRTUAL_HINTS = (
    "vmware",
    "virtualbox",
    "qemu",
    "kvm",
    "xen",
    "hyper-v",
    "virtual machine",
    "bochs",
    "openstack",
)
LAPTOP_HINTS = (
    "laptop",
    "notebook",
    "xps",
    "thinkpad",
    "latitude",
    "macbook",
    "elitebook",
    "probook",
    "zenbook",
)


def choose_ci_type(report: dict, agent: Agent) -> CIType:
    """The class of a CI created from a report: by item type, then the group's default, then hints."""
    device = report["device"]
    item_type = report.get("item_type", "computer")
    slug = {"printer": "printer", "network_equipment": "network-device", "phone": "phone"}.get(
        item_type
    )
    if slug is None:
        if agent.group_id and agent.group.default_ci_type_id:
            return agent.group.default_ci_type
        hint = f"{device.get('manufacturer', '')} {device.get('model', '')}".lower()
        os_name = (device.get("os") or {}).get("name", "").lower()
        if any(word in hint for word in VIRTUAL_HINTS):
            slug = "virtual-machine"
        elif any(word in hint for word in LAPTOP_HINTS):
            slug = "laptop"
        elif (
            ("windows" in os_name and "server" not in os_name)
            or "mac os" in os_name
            or "macos" in os_name
        ):
            slug = "desktop"
        else:
            slug = "server"
    # Built-in types by their stable key (a CMDB Manager may rename the slug); the slug is
    # the key's original value, for databases whose types were seeded without one.
    return CIType.objects.filter(builtin_key=slug).first() or CIType.objects.get(slug=slug)


# --- the whole report ---------------------------------------------------------------------


def reconcile(
    *,
    report: InventoryReport,
    normalized: dict,
    agent: Agent,
    digest: str = "",
    approved_ci: ConfigurationItem | None = None,
) -> Outcome:
    """Apply one normalised report to the CMDB. Call inside a transaction; safe to repeat.

    Raises ReportHeld (nothing written) when the key may not update the CI the report
    describes (see `decide`); `approved_ci` is the CI a CMDB Manager approved for a held
    report, applied without that check. The history entries of the report (fields, storage,
    software…) are written together."""
    with collected_history():
        return _reconcile(
            report=report,
            normalized=normalized,
            agent=agent,
            digest=digest,
            approved_ci=approved_ci,
        )


def _reconcile(
    *,
    report: InventoryReport,
    normalized: dict,
    agent: Agent,
    digest: str,
    approved_ci: ConfigurationItem | None,
) -> Outcome:
    context = ChangeContext(actor=None, source=ChangeSource.AGENT, source_ref=f"report:{report.pk}")
    out = Outcome(
        raise_incidents=bool(agent.group_id and agent.group.raise_incidents), report=report
    )
    keys = identity_keys(normalized)
    sections = set(normalized.get("sections") or [])

    if approved_ci is not None:
        ci, out.matched_by = approved_ci, "approved binding"
    else:
        ci, out.matched_by = decide(agent, keys, normalized)

    is_new = ci is None
    if is_new:
        ci = _create_ci(normalized, agent, context)
        out.created = True
        out.matched_by = "created"
    out.ci_id = ci.pk

    # A new CI has no state yet: no look-up, one INSERT at the end.
    state = InventoryState(ci=ci) if is_new else InventoryState.objects.get_or_create(ci=ci)[0]
    hashes = dict(state.section_hashes)
    if state.ci_version is not None and state.ci_version != ci.version:
        # Someone changed the CI since the last report: re-apply what the agent owns.
        for name in ("device", "os", "hardware", "security"):
            hashes.pop(name, None)
    owners = field_owners(ci.ci_type)

    field_sections = sections & {"device", "os", "hardware", "security"}
    field_payload = {
        "device": {
            k: v
            for k, v in normalized["device"].items()
            if k not in ("os", "cpu", "memory_mb", "macs")
        },
        "os": normalized["device"].get("os"),
        "hardware": [normalized["device"].get("cpu"), normalized["device"].get("memory_mb")],
        "security": normalized.get("security"),
    }
    changed_fields = {s for s in field_sections if hashes.get(s) != section_hash(field_payload[s])}
    if changed_fields or is_new:
        if not is_new:
            _hardware_changes(ci, normalized, changed_fields, context, out)
        _apply_fields(ci, normalized, changed_fields or field_sections, owners, context, out)
        for s in field_sections:
            hashes[s] = section_hash(field_payload[s])
    out.changed_sections.extend(sorted(changed_fields))

    for name, apply in (
        (
            "network",
            lambda: (
                agent_owns(owners, "network") and _apply_network(ci, normalized["network"], context)
            ),
        ),
        (
            "storage",
            lambda: (
                agent_owns(owners, "storage")
                and _apply_storage(ci, normalized["storage"], context, out, is_new)
            ),
        ),
        (
            "software",
            lambda: (
                agent_owns(owners, "software")
                and _apply_software(ci, normalized["software"], context, out, "software" in hashes)
            ),
        ),
    ):
        if name not in sections:
            continue
        section_digest = section_hash(normalized[name])
        if hashes.get(name) == section_digest:
            out.unchanged_sections.append(name)
            continue
        if apply():
            out.changed_sections.append(name)
        hashes[name] = section_digest
    if "events" in sections and normalized["events"]:
        section_digest = section_hash(normalized["events"])
        if hashes.get("events") != section_digest:
            out.events = _apply_events(ci, normalized["events"], report)
            hashes["events"] = section_digest

    if ci.status == CIStatus.DISPOSED:
        out.discrepancies.append(
            _raise(
                ci,
                DiscrepancyKind.DISPOSED_REPORTING,
                "",
                "This CI is marked disposed but still reports.",
                {"report": report.pk},
                out,
            )
        )
    if not is_new:
        discrepancy_close_open(
            ci=ci,
            kind=DiscrepancyKind.STALE,
            status=DiscrepancyStatus.RESOLVED,
            resolution=f"Reported again (report {report.pk}).",
        )

    state.section_hashes = hashes
    state.content_digest = digest
    state.ci_version = ConfigurationItem.objects.values_list("version", flat=True).get(pk=ci.pk)
    state.last_report = report
    state.last_report_at = report.received_at
    if normalized.get("device_id"):
        state.device_id = normalized["device_id"][:255]
    if "security" in sections:
        state.security = normalized.get("security") or {}
    state.save()
    if is_new and normalized.get("item_type") not in COLLECTED_ITEM_TYPES:
        # A key's first report of a machine the CMDB did not know: the key is bound to it.
        Agent.objects.filter(pk=agent.pk).update(ci=ci)
        agent.ci = ci
    return out


def _create_ci(report: dict, agent: Agent, context: ChangeContext) -> ConfigurationItem:
    device = report["device"]
    ci_type = choose_ci_type(report, agent)
    attributes = {
        k: v
        for k, v in _attribute_updates(report, set(report.get("sections") or [])).items()
        if v not in (None, "", {})
    }
    name = (
        device.get("hostname")
        or device.get("serial_number")
        or report.get("device_id")
        or f"device-{report['device_id']}"
    )
    fields = {
        "ci_type": ci_type,
        "name": name[:200],
        "status": CIStatus.RECEIVED,
        "hostname": usable_hostname(device.get("hostname")),
        "serial_number": device.get("serial_number") or "",
        "uuid": usable_uuid(device.get("uuid")),
    }
    try:
        return cmdb_services.ci_create(context=context, attributes=attributes, **fields)
    except ValidationError as exc:
        if not attributes or "attributes" not in getattr(exc, "message_dict", {}):
            raise
    # Attributes the type's schema refuses are left out; the CI itself is still created.
    return cmdb_services.ci_create(context=context, attributes={}, **fields)
