"""Services that bind agent keys to CIs: holding a report whose key may not update the CI it
describes, and a CMDB Manager's approval or refusal of that binding.

A key updates only the CI it is bound to (see `reconcile.decide`). When a report would change
another CI, nothing is written but: the report moves to `held`, an `identity_hold` discrepancy
(one per key and CI while open) and a security-log entry. A CMDB Manager then approves the
binding — the key is bound to that CI, any other key bound to it is unbound, and the held report
is applied — or refuses it: the held reports are rejected and the discrepancy is closed.
"""

from __future__ import annotations

import json

from django.db import transaction

from cmdb.history import ChangeContext, record_change
from cmdb.models import ConfigurationItem, HistoryEntry
from cmdb.services import require_permission
from itsm.exceptions import ApplicationError

from . import discrepancies
from .choices import AgentStatus, DiscrepancyKind, DiscrepancyStatus, RejectionReason, ReportStatus
from .models import Agent, Discrepancy, InventoryReport, SecurityEvent
from .reconcile import Hold, reconcile
from .schema import content_digest
from .services import check_report_move, report_mark_processed, report_mark_rejected

__all__ = ["binding_approve", "binding_refuse", "report_hold"]


def _log(*, reason: str, key_id: str, detail: str, path: str, status_code: int) -> None:
    """A security-log entry, not rate-limited: these are rare and each one matters."""
    SecurityEvent.objects.create(
        reason=reason,
        key_id=key_id[:64],
        path=path[:200],
        status_code=status_code,
        detail=detail[:500],
    )


def report_hold(*, report: InventoryReport, hold: Hold) -> Discrepancy:
    """received/failed → held: the report changes nothing; open (or see again) the key's identity
    discrepancy on the CI it describes and, when newly opened, write a security-log entry.

    Called by `services.report_process` inside its transaction, the report row locked."""
    agent = report.agent
    check_report_move(report.status, ReportStatus.HELD)
    report.status = ReportStatus.HELD
    report.attempts += 1
    report.error = hold.message(agent)[:2000]
    report.summary = {
        "held": True,
        "candidate_ci": hold.ci.pk,
        "matched_by": hold.matched_by,
        "weak": hold.weak,
        "reason": hold.reason,
    }
    report.save(update_fields=["status", "attempts", "error", "summary"])
    item, opened = discrepancies.discrepancy_open_or_refresh(
        ci=hold.ci,
        kind=DiscrepancyKind.IDENTITY_HOLD,
        key=agent.key_id,
        message=hold.message(agent),
        detail=hold.detail(agent, report),
        raise_incident=bool(agent.group is not None and agent.group.raise_incidents),
        report=report,
    )
    if opened:
        _log(
            reason=RejectionReason.IDENTITY,
            key_id=agent.key_id,
            detail=f"{hold.message(agent)} Report {report.pk}, discrepancy {item.pk}.",
            path="agents/reports/",
            status_code=202,
        )
    return item


def _held_item(discrepancy_id: int) -> Discrepancy:
    item = (
        Discrepancy.objects.select_for_update(of=("self",))
        .select_related("ci")
        .get(pk=discrepancy_id)
    )
    if item.kind != DiscrepancyKind.IDENTITY_HOLD:
        raise ApplicationError("Only a held report's discrepancy (identity_hold) has a binding.")
    discrepancies.check_move(item.status, DiscrepancyStatus.RESOLVED)
    return item


def _held_reports(agent_id: int, ci_id: int) -> list[InventoryReport]:
    """The key's reports held for this CI, oldest first, locked."""
    reports = InventoryReport.objects.select_for_update().filter(
        agent_id=agent_id, status=ReportStatus.HELD
    )
    return [
        r for r in reports.order_by("received_at", "id") if r.summary.get("candidate_ci") == ci_id
    ]


@transaction.atomic
def binding_approve(*, context: ChangeContext, discrepancy_id: int, note: str = "") -> Discrepancy:
    """Approve a held report's binding: the key is bound to the CI (any other key bound to it is
    unbound; a collector reporting a device without an agent is its source and stays unbound)
    and the latest held report is applied; earlier held ones are rejected as superseded."""
    require_permission(context, "agents.bind_agent")
    item = _held_item(discrepancy_id)
    ci = ConfigurationItem.objects.select_related("ci_type").get(pk=item.ci_id)
    agent = (
        Agent.objects.select_for_update(of=("self",))
        .select_related("group")
        .filter(key_id=item.key)
        .first()
    )
    if agent is None:
        raise ApplicationError("The key of this held report no longer exists: refuse it.")
    if agent.status == AgentStatus.REVOKED:
        raise ApplicationError("This key is revoked: refuse the binding instead.")
    held = _held_reports(agent.pk, ci.pk)
    collected = bool(item.detail.get("collected"))
    unbound = list(
        Agent.objects.filter(ci=ci).exclude(pk=agent.pk).values_list("key_id", flat=True)
    )
    Agent.objects.filter(ci=ci).exclude(pk=agent.pk).update(ci=None)
    previous = agent.ci_id
    if not collected:
        agent.ci = ci
        agent.save(update_fields=["ci"])
    who = getattr(context.actor, "username", "the system")
    record_change(
        ci=ci,
        kind=HistoryEntry.Kind.UPDATED,
        changes={
            "agent_binding": {
                "bound": None if collected else agent.key_id,
                "source": agent.key_id,
                "unbound": unbound,
            }
        },
        context=context,
    )
    _log(
        reason=RejectionReason.BINDING_APPROVED,
        key_id=agent.key_id,
        detail=(
            f"{who} approved key {agent.key_id} for CI {ci.pk} ({ci.name})"
            + (" as a collector's device" if collected else "")
            + (f"; previously bound to CI {previous}" if previous and previous != ci.pk else "")
            + (f"; unbound key(s): {', '.join(unbound)}" if unbound else "")
            + "."
        ),
        path=f"agents/discrepancies/{item.pk}/approve-binding/",
        status_code=200,
    )
    if held:
        *older, latest = held
        for report in older:
            report_mark_rejected(
                report, f"Superseded by report {latest.pk} when the binding was approved."
            )
        _apply(latest, agent, ci)
    discrepancies.discrepancy_move(
        item,
        DiscrepancyStatus.RESOLVED,
        actor=context.actor,
        resolution=note or f"Binding approved by {who}.",
    )
    return item


def _apply(report: InventoryReport, agent: Agent, ci: ConfigurationItem) -> None:
    """Apply a held report to the approved CI, as its processing would have."""
    from .inventory import normalize_report

    document = json.loads(bytes(report.body))
    normalized = normalize_report(document)
    outcome = reconcile(
        report=report,
        normalized=normalized,
        agent=agent,
        digest=content_digest(document),
        approved_ci=ci,
    )
    report_mark_processed(report, ci_id=outcome.ci_id, summary=outcome.as_dict())


@transaction.atomic
def binding_refuse(*, context: ChangeContext, discrepancy_id: int, note: str = "") -> Discrepancy:
    """Refuse a held report's binding: the key's held reports for this CI are rejected, nothing in
    the CMDB changes, the discrepancy is closed as refused."""
    require_permission(context, "agents.bind_agent")
    item = _held_item(discrepancy_id)
    discrepancies.check_move(item.status, DiscrepancyStatus.REFUSED)
    agent = Agent.objects.filter(key_id=item.key).first()
    who = getattr(context.actor, "username", "the system")
    if agent is not None:
        for report in _held_reports(agent.pk, item.ci_id):
            report_mark_rejected(report, f"Binding to CI {item.ci_id} refused by {who}.")
    _log(
        reason=RejectionReason.BINDING_REFUSED,
        key_id=item.key,
        detail=f"{who} refused binding key {item.key} to CI {item.ci_id}."
        + (f" {note}" if note else ""),
        path=f"agents/discrepancies/{item.pk}/refuse-binding/",
        status_code=200,
    )
    discrepancies.discrepancy_move(
        item,
        DiscrepancyStatus.REFUSED,
        actor=context.actor,
        resolution=note or f"Binding refused by {who}.",
    )
    return item
