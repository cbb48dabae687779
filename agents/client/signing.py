"""Sign agent requests with RFC 9421 HTTP message signatures (Ed25519, label ``sig1``).

Headers produced (see the public contract, "Signed requests")::

    Content-Digest: sha-256=:<base64 SHA-256 of the body>:          (requests with a body)
    Signature-Input: sig1=("@method" "@path" "content-digest");created=…;keyid="…";alg="ed25519";nonce="…"
    Signature: sig1=:<base64 signature>:
"""

from __future__ import annotations

import datetime
import secrets

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from http_message_signatures import HTTPMessageSigner, HTTPSignatureKeyResolver, algorithms

SIGNATURE_LABEL = "sig1"
COMPONENTS_WITH_BODY = ("@method", "@path", "content-digest")
COMPONENTS_WITHOUT_BODY = ("@method", "@path")
NONCE_BYTES = 18  # 24 base64url characters, no padding


def make_nonce() -> str:
    """A fresh nonce: base64url without padding of 18 random bytes."""
    return secrets.token_urlsafe(NONCE_BYTES)


class _SingleKeyResolver(HTTPSignatureKeyResolver):
    """Resolves the one key id this agent holds to its private key."""

    def __init__(self, key_id: str, private_key: Ed25519PrivateKey) -> None:
        self.key_id = key_id
        self.private_key = private_key

    def resolve_private_key(self, key_id: str) -> Ed25519PrivateKey:
        if key_id != self.key_id:
            raise LookupError(f"unknown key id {key_id!r}")
        return self.private_key

    def resolve_public_key(self, key_id: str):  # pragma: no cover - signing only
        return self.private_key.public_key() if key_id == self.key_id else None


class RequestSigner:
    """Signs prepared ``requests`` requests as agent ``key_id``."""

    def __init__(self, key_id: str, private_key: Ed25519PrivateKey) -> None:
        if not key_id:
            raise ValueError("a key_id is needed to sign requests (enrol first)")
        self.key_id = key_id
        self._signer = HTTPMessageSigner(
            signature_algorithm=algorithms.ED25519,
            key_resolver=_SingleKeyResolver(key_id, private_key),
        )

    def sign(self, request: requests.PreparedRequest, body: bytes | None) -> None:
        """Add Content-Digest (when ``body`` is not None), Signature-Input and Signature.

        ``body`` must be exactly the bytes that will be sent. Every call uses the current time
        and a new nonce, so a re-sent report is signed afresh.
        """
        for name in ("Content-Digest", "Signature-Input", "Signature"):
            request.headers.pop(name, None)
        self._signer.sign(
            request,
            key_id=self.key_id,
            created=datetime.datetime.now(datetime.UTC),
            nonce=make_nonce(),
            label=SIGNATURE_LABEL,
            include_alg=True,
            covered_component_ids=COMPONENTS_WITH_BODY
            if body is not None
            else COMPONENTS_WITHOUT_BODY,
            body=body,
        )


def build_request(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    signer: RequestSigner | None = None,
    user_agent: str = "itsm-agent",
) -> requests.PreparedRequest:
    """A prepared request with JSON headers, signed when ``signer`` is given."""
    headers = {"Accept": "application/json", "User-Agent": user_agent}
    if body is not None:
        headers["Content-Type"] = "application/json"
    prepared = requests.Request(method.upper(), url, headers=headers, data=body).prepare()
    if signer is not None:
        signer.sign(prepared, body)
    return prepared
