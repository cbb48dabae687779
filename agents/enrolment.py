"""Enrolment and keys: one-time enrolment tokens, enrolling, approving, revoking and
updating agents, key rotation. Importable from `agents.services` as before."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets
from typing import Any

from cryptography.exceptions import InvalidSignature as CryptoInvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.db import transaction
from django.utils import timezone

from cmdb.history import ChangeContext
from cmdb.services import require_permission
from itsm.audit import record
from itsm.exceptions import ApplicationError, ConflictError

from .choices import AGENT_TRANSITIONS, AgentStatus, RejectionReason
from .models import Agent, AgentGroup, EnrollmentToken, SecurityEvent
from .signatures import SignedRequestRejected, VerifiedRequest, decode_public_key

ROTATION_PROOF_PREFIX = "itsm-key-rotation:"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- enrolment ----------------------------------------------------------------------------


@transaction.atomic
def enrollment_token_create(
    *,
    context: ChangeContext,
    expires_in_hours: float = 24,
    auto_approve: bool = False,
    group: AgentGroup | None = None,
    note: str = "",
) -> tuple[str, EnrollmentToken]:
    """Create a one-time enrolment secret; returns the secret (shown once) and its record."""
    require_permission(context, "agents.enroll_agent")
    if context.actor is None:
        raise ApplicationError("An enrolment token is made by a person, who answers for it.")
    if not 0 < expires_in_hours <= 24 * 30:
        raise ApplicationError(
            "expires_in_hours must be between 0 and 720.",
            extra={"expires_in_hours": ["Out of range."]},
        )
    secret = "enr_" + secrets.token_urlsafe(32)
    token = EnrollmentToken.objects.create(
        token_hash=hash_token(secret),
        prefix=secret[:10],
        created_by=context.actor,
        expires=timezone.now() + dt.timedelta(hours=expires_in_hours),
        auto_approve=auto_approve,
        group=group,
        note=note,
    )
    return secret, token


@transaction.atomic
def agent_enroll(
    *, enrollment_token: str, name: str, public_key: str, remote_addr: str | None = None
) -> Agent:
    """Register an agent's public key with a one-time token; it lands pending or active per the token."""
    try:
        decode_public_key(public_key)
    except ValueError as exc:
        raise ApplicationError(str(exc), extra={"public_key": [str(exc)]}) from exc
    token = (
        EnrollmentToken.objects.select_for_update()
        .filter(
            token_hash=hash_token(enrollment_token or ""),
            used_at__isnull=True,
            expires__gt=timezone.now(),
        )
        .first()
    )
    if token is None:
        raise SignedRequestRejected(
            401, RejectionReason.ENROLLMENT, "The enrolment token is unknown, used or expired"
        )
    if Agent.objects.filter(public_key=public_key).exists():
        raise ConflictError("This public key is already enrolled.")
    token.used_at = timezone.now()
    token.save(update_fields=["used_at"])
    status = AgentStatus.ACTIVE if token.auto_approve else AgentStatus.PENDING
    agent = Agent.objects.create(
        key_id="agt_" + secrets.token_urlsafe(12),
        name=name[:255],
        public_key=public_key,
        status=status,
        group=token.group or default_group(),
        enrolled_from=remote_addr,
        approved_by=token.created_by if token.auto_approve else None,
        approved_at=timezone.now() if token.auto_approve else None,
    )
    return agent


def default_group() -> AgentGroup:
    group, _ = AgentGroup.objects.get_or_create(name="Default")
    return group


def _status_change(before: str, agent: Agent) -> dict[str, Any]:
    return {"status": {"old": before, "new": agent.status}}


def _move(agent: Agent, to_status: str) -> None:
    if to_status not in AGENT_TRANSITIONS[agent.status]:
        raise ApplicationError(f"An agent cannot move from {agent.status} to {to_status}.")
    agent.status = to_status


@transaction.atomic
def agent_approve(*, context: ChangeContext, agent_id: int) -> Agent:
    """Let a pending agent report."""
    require_permission(context, "agents.enroll_agent")
    agent = Agent.objects.select_for_update().get(pk=agent_id)
    _move(agent, AgentStatus.ACTIVE)
    agent.approved_by, agent.approved_at = context.actor, timezone.now()
    agent.save(update_fields=["status", "approved_by", "approved_at"])
    record(
        obj=agent,
        kind="approved",
        changes=_status_change(AgentStatus.PENDING, agent),
        context=context,
    )
    return agent


@transaction.atomic
def agent_revoke(*, context: ChangeContext, agent_id: int) -> Agent:
    """Revoke an agent's key for good; its requests are refused from now on."""
    require_permission(context, "agents.revoke_agent")
    agent = Agent.objects.select_for_update().get(pk=agent_id)
    before = agent.status
    _move(agent, AgentStatus.REVOKED)
    agent.revoked_by, agent.revoked_at = context.actor, timezone.now()
    agent.save(update_fields=["status", "revoked_by", "revoked_at"])
    record(obj=agent, kind="revoked", changes=_status_change(before, agent), context=context)
    return agent


@transaction.atomic
def agent_update(
    *, context: ChangeContext, agent_id: int, group: AgentGroup | None, is_collector: bool
) -> Agent:
    """Set an agent's policy and its collector flag (CMDB Manager: `agents.change_agent`).

    A change of the collector flag widens or narrows what the key may report: it is written to
    the security log."""
    require_permission(context, "agents.change_agent")
    agent = Agent.objects.select_for_update().get(pk=agent_id)
    if agent.is_collector != is_collector:
        who = getattr(context.actor, "username", "the system")
        SecurityEvent.objects.create(
            reason=RejectionReason.COLLECTOR,
            key_id=agent.key_id,
            path=f"agents/{agent.pk}/",
            status_code=200,
            detail=f"{who} {'made' if is_collector else 'removed'} key {agent.key_id} "
            f"{'a' if is_collector else 'from the'} collector{'s' if not is_collector else ''}.",
        )
    agent.group, agent.is_collector = group, is_collector
    agent.save(update_fields=["group", "is_collector"])
    return agent


def rotation_message(key_id: str, new_public_key: str) -> bytes:
    return f"{ROTATION_PROOF_PREFIX}{key_id}:{new_public_key}".encode()


@transaction.atomic
def agent_rotate_key(*, verified: VerifiedRequest, new_public_key: str, proof: str) -> Agent:
    """Replace an agent's key: the request is signed with the old key and `proof` with the new one."""
    from .services import nonce_consume

    nonce_consume(verified)
    try:
        raw = decode_public_key(new_public_key)
        Ed25519PublicKey.from_public_bytes(raw).verify(
            base64.b64decode(proof, validate=True),
            rotation_message(verified.agent.key_id, new_public_key),
        )
    except (ValueError, TypeError, CryptoInvalidSignature) as exc:
        raise ApplicationError(
            "The proof does not verify with the new key.", extra={"proof": ["Invalid."]}
        ) from exc
    if Agent.objects.filter(public_key=new_public_key).exclude(pk=verified.agent.pk).exists():
        raise ConflictError("This public key is already enrolled.")
    agent = Agent.objects.select_for_update().get(pk=verified.agent.pk)
    old_key, agent.public_key = agent.public_key, new_public_key
    agent.key_rotated_at = agent.last_seen = timezone.now()
    agent.save(update_fields=["public_key", "key_rotated_at", "last_seen"])
    changes = {"public_key": {"old": old_key, "new": new_public_key}}
    context = ChangeContext(source="agent", source_ref=f"agent {agent.key_id}")
    record(obj=agent, kind="key_rotated", changes=changes, context=context)
    return agent
