"""Escalation rules applied by the beat task: at X % of a target (or on breach), reassign,
raise the priority, notify — once per incident, rule and SLA cycle.

"Once" is the unique constraint of `EscalationFired`: the row is inserted in a savepoint
before the actions run, so a second run (or a concurrent one, which waits for the first's
commit and then hits the constraint) does nothing.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from cmdb.history import ChangeContext
from itsm.exceptions import ApplicationError
from itsm.permissions import require_permission

from . import sla_services
from .choices import OPEN_STATUSES, IncidentStatus, SlaTarget
from .models import EscalationFired, EscalationRule, Incident

logger = logging.getLogger(__name__)


def _applies(rule: EscalationRule, incident: Incident) -> bool:
    if rule.priority is not None and rule.priority != incident.priority:
        return False
    return not (rule.target == SlaTarget.RESPONSE and incident.responded_at is not None)


def escalations_due(*, now: dt.datetime | None = None) -> list[tuple[Incident, EscalationRule]]:
    """The (incident, rule) pairs whose threshold is reached and that have not fired in the
    incident's current SLA cycle. Incidents on hold wait (their clock is stopped)."""
    now = now or timezone.now()
    rules = list(EscalationRule.objects.filter(active=True))
    if not rules:
        return []
    candidates = list(
        Incident.objects.filter(
            status__in=[s for s in OPEN_STATUSES if s != IncidentStatus.ON_HOLD],
            on_hold_since__isnull=True,
            sla_policy__isnull=False,
        ).select_related("sla_policy")
    )
    fired = set(
        EscalationFired.objects.filter(incident__in=[i.pk for i in candidates]).values_list(
            "incident_id", "rule_id", "cycle"
        )
    )
    due = []
    for incident in candidates:
        percents: dict[str, float | None] = {}
        for rule in rules:
            if (incident.pk, rule.pk, incident.sla_cycle) in fired or not _applies(rule, incident):
                continue
            if rule.target not in percents:
                percents[rule.target] = sla_services.elapsed_percent(incident, rule.target, now=now)
            percent = percents[rule.target]
            if percent is not None and percent >= rule.threshold_percent:
                due.append((incident, rule))
    return due


def escalation_fire(*, context: ChangeContext, incident: Incident, rule: EscalationRule) -> bool:
    """Fire one rule for one incident, once: False when it already fired in this cycle."""
    from .services import incident_escalate

    require_permission(context, "incidents.escalate_incident")
    with transaction.atomic():
        locked = Incident.objects.select_for_update(of=("self",)).get(pk=incident.pk)
        if locked.status not in OPEN_STATUSES or locked.on_hold_since is not None:
            return False
        try:
            with transaction.atomic():
                EscalationFired.objects.create(incident=locked, rule=rule, cycle=locked.sla_cycle)
        except IntegrityError:
            return False
        user_ids = set(rule.notify_users.values_list("pk", flat=True))
        if rule.notify_group is not None:
            user_ids |= set(rule.notify_group.user_set.values_list("pk", flat=True))
        percent = rule.threshold_percent
        what = "breached" if percent >= 100 else f"reached {percent} % of"
        rule_context = ChangeContext(
            actor=context.actor,
            source=context.source,
            source_ref=f"escalation-rule:{rule.pk}",
            at=context.at,
            request_id=context.request_id,
        )
        incident_escalate(
            context=rule_context,
            incident=locked,
            reason=f"{rule.name}: the {rule.get_target_display().lower()} target {what}.",
            assignee=rule.reassign_to,
            group=rule.reassign_group,
            raise_priority=rule.raise_priority,
            notify_user_ids=sorted(user_ids),
            notify_team=rule.notify_assignee,
        )
    return True


def escalations_run(*, context: ChangeContext, now: dt.datetime | None = None) -> int:
    """Fire every escalation that is due; returns how many fired."""
    require_permission(context, "incidents.escalate_incident")
    count = 0
    for incident, rule in escalations_due(now=now):
        try:
            count += escalation_fire(context=context, incident=incident, rule=rule)
        except ApplicationError as exc:  # e.g. the rule's assignee lost their role
            logger.warning("Escalation rule %s on %s refused: %s", rule.pk, incident.pk, exc)
    return count
