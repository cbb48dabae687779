"""Services of collection policies (agent groups): create, update with a version check, delete.

The page and the API call the same functions. A policy's version is a fingerprint of its
fields (what the editor loaded): a save over someone else's change answers 409, on the page
as in the API. A policy still followed by agents or named by enrolment tokens cannot be
deleted (409, saying what uses it).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.forms.models import model_to_dict

from cmdb.history import ChangeContext
from cmdb.services import require_permission
from itsm.audit import record
from itsm.exceptions import ConflictError

from .models import Agent, AgentGroup, EnrollmentToken

#: The fields a policy's editor and API change (and its version covers).
POLICY_FIELDS = (
    "name",
    "description",
    "interval_seconds",
    "stale_after_missed",
    "collect_hardware",
    "collect_software",
    "collect_storage",
    "collect_security",
    "collect_events",
    "default_ci_type",
    "raise_incidents",
)
#: How many of the agents using a policy a refused delete names.
USERS_LISTED = 20


def policy_version(group: AgentGroup) -> str:
    """The fingerprint of a policy's fields: changes whenever one of them does."""
    data = model_to_dict(group, fields=POLICY_FIELDS)
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:32]


def _snapshot(group: AgentGroup) -> dict[str, Any]:
    return json.loads(json.dumps(model_to_dict(group, fields=POLICY_FIELDS), default=str))


def _audit_policy_change(
    *, context: ChangeContext, group: AgentGroup, action: str, changes: dict[str, Any]
) -> None:
    """Record a policy write in the one audit log (call before a delete, while it has its id)."""
    record(obj=group, kind=action, changes=changes, context=context)


def _diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """`{field: {"old", "new"}}` for the fields that differ, the audit log's shape."""
    return {k: {"old": before.get(k), "new": after[k]} for k in after if before.get(k) != after[k]}


@transaction.atomic
def policy_create(*, context: ChangeContext, values: Mapping[str, Any]) -> AgentGroup:
    """Create a collection policy from validated `values` (fields of POLICY_FIELDS)."""
    require_permission(context, "agents.add_agentgroup")
    group = AgentGroup(**{k: v for k, v in values.items() if k in POLICY_FIELDS})
    group.full_clean()
    group.save()
    _audit_policy_change(
        context=context,
        group=group,
        action="created",
        changes=_diff({}, _snapshot(group)),
    )
    return group


@transaction.atomic
def policy_update(
    *,
    context: ChangeContext,
    policy_id: int,
    values: Mapping[str, Any],
    expected_version: str,
) -> AgentGroup:
    """Change the given fields of a policy, if it is still at `expected_version` (else 409)."""
    require_permission(context, "agents.change_agentgroup")
    group = AgentGroup.objects.select_for_update().get(pk=policy_id)
    current = policy_version(group)
    if expected_version != current:
        raise ConflictError(
            "Someone changed this policy since you read it. Read it again, then retry.",
            extra={"version": current},
        )
    before = _snapshot(group)
    for name, value in values.items():
        if name in POLICY_FIELDS:
            setattr(group, name, value)
    group.full_clean()
    group.save()
    changes = _diff(before, _snapshot(group))
    if changes:
        _audit_policy_change(context=context, group=group, action="changed", changes=changes)
    return group


@transaction.atomic
def policy_delete(*, context: ChangeContext, policy_id: int) -> None:
    """Delete a policy no agent follows and no enrolment token names; otherwise 409."""
    require_permission(context, "agents.delete_agentgroup")
    group = AgentGroup.objects.select_for_update().get(pk=policy_id)
    agents = Agent.objects.filter(group=group).order_by("name", "pk")
    agent_count = agents.count()
    token_count = EnrollmentToken.objects.filter(group=group).count()
    if agent_count or token_count:
        raise ConflictError(
            f"The policy {group.name} is still used by {agent_count} agent(s) and "
            f"{token_count} enrolment token(s); move them to another policy first.",
            extra={
                "used_by": {
                    "agents": [
                        {"id": a.pk, "name": a.name, "key_id": a.key_id}
                        for a in agents[:USERS_LISTED]
                    ],
                    "agent_count": agent_count,
                    "enrollment_token_count": token_count,
                }
            },
        )
    before = _snapshot(group)
    _audit_policy_change(
        context=context,
        group=group,
        action="deleted",
        changes=_diff(before, dict.fromkeys(before)),
    )
    group.delete()
