"""Verification of agent requests: RFC 9421 HTTP Message Signatures with Ed25519 and RFC 9530
Content-Digest, through the http-message-signatures library.

Everything here runs before a byte of the body is parsed as JSON: size, content type,
signature headers, key status, signature, `created` window and digest. The nonce is checked
last, inside the caller's transaction (see services.nonce_consume), so a refused request
writes nothing.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

import http_sf
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.conf import settings
from http_message_signatures import (
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    InvalidSignature,
    algorithms,
)
from http_message_signatures.exceptions import HTTPMessageSignaturesException

from . import sql
from .choices import AgentStatus, RejectionReason
from .models import Agent

SIGNATURE_LABEL = "sig1"
MIN_NONCE_BYTES = 16
MAX_HEADER_LENGTH = 4096


class SignedRequestRejected(Exception):
    """A signed request is refused: `status` is the HTTP answer, `reason` the security-log kind."""

    def __init__(self, status: int, reason: str, message: str, key_id: str = ""):
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.key_id = key_id


@dataclass(frozen=True)
class VerifiedRequest:
    agent: Agent
    nonce: str
    created: int
    body: bytes


class _Message:
    """The shape the library's component resolver reads: method, absolute url, headers."""

    def __init__(self, method: str, path: str, headers: dict[str, str]):
        self.method = method
        self.url = "https://agent.invalid" + path
        self.headers = headers


class _AgentKeyResolver(HTTPSignatureKeyResolver):
    def __init__(self, agent: Agent):
        self.agent = agent

    def resolve_public_key(self, key_id: str):
        if key_id != self.agent.key_id:
            raise InvalidSignature("Unexpected key id")
        return _public_key(self.agent.public_key)

    def resolve_private_key(self, key_id: str):  # pragma: no cover - the server never signs
        raise NotImplementedError


@lru_cache(maxsize=4096)
def _public_key(public_key_b64: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64))


def decode_public_key(value: str) -> bytes:
    """Decode an enrolment's public key: standard base64 of exactly 32 raw bytes, else ValueError."""
    try:
        raw = base64.b64decode(value, validate=True)
    except (ValueError, TypeError) as exc:
        raise ValueError("public_key must be base64") from exc
    if len(raw) != 32:
        raise ValueError("public_key must be a raw 32-byte Ed25519 key")
    Ed25519PublicKey.from_public_bytes(raw)
    return raw


def _headers(meta: dict) -> dict[str, str]:
    headers = {}
    for name, meta_key in (
        ("Signature-Input", "HTTP_SIGNATURE_INPUT"),
        ("Signature", "HTTP_SIGNATURE"),
        ("Content-Digest", "HTTP_CONTENT_DIGEST"),
        ("Content-Type", "CONTENT_TYPE"),
    ):
        value = meta.get(meta_key)
        if value:
            if len(value) > MAX_HEADER_LENGTH:
                raise SignedRequestRejected(
                    401, RejectionReason.MALFORMED_SIGNATURE, f"{name} header too long"
                )
            headers[name] = value
    return headers


def read_signature_params(signature_input: str) -> tuple[list[str], dict]:
    """Covered components and parameters of the `sig1` signature, or a 401."""
    try:
        parsed = http_sf.parse(signature_input.encode(), tltype="dictionary")
        members, params = parsed[SIGNATURE_LABEL]
        components = [value for value, _ in members]
    except Exception as exc:
        raise SignedRequestRejected(
            401,
            RejectionReason.MALFORMED_SIGNATURE,
            f"Signature-Input must carry a '{SIGNATURE_LABEL}' signature",
        ) from exc
    return components, dict(params)


def check_size_and_type(meta: dict, *, has_body: bool) -> int:
    """413 above the size limit, 415 for a content type other than application/json."""
    if not has_body:
        return 0
    try:
        length = int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError as exc:
        raise SignedRequestRejected(400, RejectionReason.OVERSIZE, "Bad Content-Length") from exc
    if length > settings.AGENT_MAX_BODY_BYTES:
        raise SignedRequestRejected(
            413,
            RejectionReason.OVERSIZE,
            f"Body of {length} bytes exceeds {settings.AGENT_MAX_BODY_BYTES}",
        )
    content_type = (meta.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise SignedRequestRejected(
            415, RejectionReason.CONTENT_TYPE, "Content-Type must be application/json"
        )
    return length


def verify_signed_request(*, method: str, path: str, meta: dict, body: bytes) -> VerifiedRequest:
    """Authenticate an agent request, or raise SignedRequestRejected (401 and the reason).

    Checks: signature headers present; `sig1` covers @method, @path and (with a body)
    content-digest; alg ed25519; the key is known and active; `created` within the window
    on either side of the server's clock; a nonce of at least 16 random bytes; the Ed25519
    signature; the digest of the body.
    """
    headers = _headers(meta)
    if "Signature-Input" not in headers or "Signature" not in headers:
        raise SignedRequestRejected(
            401, RejectionReason.MALFORMED_SIGNATURE, "Signature headers are missing"
        )
    components, params = read_signature_params(headers["Signature-Input"])
    key_id = params.get("keyid") if isinstance(params.get("keyid"), str) else ""
    required = ["@method", "@path"] + (["content-digest"] if body else [])
    missing = [c for c in required if c not in components]
    if missing:
        raise SignedRequestRejected(
            401, RejectionReason.COVERAGE, f"The signature must cover {', '.join(missing)}", key_id
        )
    if params.get("alg") != "ed25519":
        raise SignedRequestRejected(
            401, RejectionReason.BAD_SIGNATURE, 'alg must be "ed25519"', key_id
        )
    nonce = params.get("nonce")
    if not isinstance(nonce, str) or not _nonce_is_strong(nonce):
        raise SignedRequestRejected(
            401,
            RejectionReason.MALFORMED_SIGNATURE,
            "A nonce of at least 16 random bytes is required",
            key_id,
        )
    created = params.get("created")
    window = settings.AGENT_SIGNATURE_WINDOW_SECONDS
    now = dt.datetime.now(dt.UTC).timestamp()
    if not isinstance(created, int) or abs(now - created) > window:
        raise SignedRequestRejected(
            401,
            RejectionReason.CLOCK,
            f"created must be within {window} s of the server's clock",
            key_id,
        )
    agent = agent_by_key_id(key_id) if key_id else None
    if agent is None:
        raise SignedRequestRejected(401, RejectionReason.UNKNOWN_KEY, "Unknown key", key_id)
    if body and "Content-Digest" not in headers:
        raise SignedRequestRejected(
            401, RejectionReason.DIGEST, "Content-Digest is required", key_id
        )
    verifier = HTTPMessageVerifier(
        signature_algorithm=algorithms.ED25519, key_resolver=_AgentKeyResolver(agent)
    )
    # `created` was checked above against our own window on both sides.
    verifier.max_clock_skew = dt.timedelta(seconds=window)
    try:
        verifier.verify(
            _Message(method, path, headers),
            max_age=None,
            require_components=tuple(required),
            body=body if body else None,
        )
    except (InvalidSignature, HTTPMessageSignaturesException) as exc:
        text = str(exc)
        reason = RejectionReason.DIGEST if "igest" in text else RejectionReason.BAD_SIGNATURE
        raise SignedRequestRejected(401, reason, "The signature does not verify", key_id) from exc
    # Status is checked only once the caller has proved it holds the key, so a stranger
    # learns nothing about which keys exist or wait for approval.
    if agent.status == AgentStatus.PENDING:
        raise SignedRequestRejected(
            401, RejectionReason.PENDING_KEY, "This key is waiting for approval", key_id
        )
    if agent.status != AgentStatus.ACTIVE:
        raise SignedRequestRejected(
            401, RejectionReason.REVOKED_KEY, "This key has been revoked", key_id
        )
    return VerifiedRequest(agent=agent, nonce=nonce, created=created, body=body)


#: What a signed request needs of its agent (kept importable here).
_AGENT_COLUMNS = sql.AGENT_COLUMNS


def agent_by_key_id(key_id: str) -> Agent | None:
    """The agent of a key id, in one narrow query (`agents.sql.agent_by_key_id`: it runs for
    every signed request, and the ORM would spend more time building it than PostgreSQL
    spends answering)."""
    return sql.agent_by_key_id(key_id)


def _nonce_is_strong(nonce: str) -> bool:
    if len(nonce) > 128:
        return False
    padded = nonce + "=" * (-len(nonce) % 4)
    try:
        raw = base64.urlsafe_b64decode(padded.encode())
    except (ValueError, TypeError):
        return False
    return len(raw) >= MIN_NONCE_BYTES
