"""The agent endpoints of the public contract, and what their answers mean to the agent."""

from __future__ import annotations

import json
import logging
from typing import Any

import requests

from .signing import RequestSigner
from .transport import Transport, clock_skew_seconds

logger = logging.getLogger(__name__)

ENROLL_PATH = "/api/v1/agents/enroll/"
REPORTS_PATH = "/api/v1/agents/reports/"
POLICY_PATH = "/api/v1/agents/policy/"
ROTATE_KEY_PATH = "/api/v1/agents/rotate-key/"

AUTH_STATUS = frozenset({401, 403})
#: 4xx answers that say nothing about the body: authentication (401, 403), a wrong server URL
#: (404, 405), a proxy (407), a timeout (408) or a rate limit (429). Every other 4xx refuses
#: this body for good (400, 409, 413, 415, 422, …); 5xx are retried by the transport.
NOT_ABOUT_THE_BODY = frozenset({401, 403, 404, 405, 407, 408, 429})
MAX_SKEW_SECONDS = 300


class AgentAPIError(Exception):
    """The server gave a final answer other than the expected success."""

    def __init__(self, message: str, *, status: int, detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


class AuthError(AgentAPIError):
    """401/403: the key is unknown, pending, revoked, or the signature was refused."""


class Rejected(AgentAPIError):
    """A 4xx about the body (400, 409, 413, 415, 422, …): the server will never accept it."""


def is_rejection(status: int) -> bool:
    """True for a 4xx answer that refuses the request body itself (see NOT_ABOUT_THE_BODY)."""
    return 400 <= status < 500 and status not in NOT_ABOUT_THE_BODY


class UnexpectedResponse(AgentAPIError):
    """Any other answer (404, a redirect, …): probably a wrong server URL; nothing is dropped."""


def encode_json(value: Any) -> bytes:
    """Compact UTF-8 JSON: the exact bytes that are signed and sent."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _detail(response: requests.Response) -> str:
    try:
        text = response.text
    except Exception:  # pragma: no cover - undecodable body
        text = ""
    return text.strip().replace("\n", " ")[:500]


def _expect(response: requests.Response, ok: set[int], what: str) -> dict[str, Any]:
    """Return the JSON object of a successful answer; raise the matching error otherwise."""
    status = response.status_code
    if status in ok:
        try:
            data = response.json()
        except ValueError:
            data = {}
        return data if isinstance(data, dict) else {"data": data}
    detail = _detail(response)
    message = f"{what}: HTTP {status} {detail}".strip()
    if status in AUTH_STATUS:
        skew = clock_skew_seconds(response)
        if skew is not None and abs(skew) > MAX_SKEW_SECONDS / 2:
            message += f" (local clock is {skew:+.0f} s off the server's; fix time sync)"
        raise AuthError(message, status=status, detail=detail)
    if is_rejection(status):
        raise Rejected(message, status=status, detail=detail)
    raise UnexpectedResponse(message, status=status, detail=detail)


def enroll(transport: Transport, *, token: str, name: str, public_key_b64: str) -> dict[str, Any]:
    """Unsigned enrolment with a one-time token → ``{"key_id", "status"}``."""
    body = encode_json({"enrollment_token": token, "name": name, "public_key": public_key_b64})
    response = transport.request("POST", ENROLL_PATH, body=body)
    data = _expect(response, {200, 201}, "enrolment")
    if not isinstance(data.get("key_id"), str | int) or data.get("key_id") == "":
        raise UnexpectedResponse(
            "enrolment answer has no key_id", status=response.status_code, detail=str(data)[:500]
        )
    return {"key_id": str(data["key_id"]), "status": str(data.get("status") or "")}


def fetch_policy(
    transport: Transport, signer: RequestSigner, *, retry: bool = True
) -> dict[str, Any]:
    """Signed GET of this agent's collection policy (raw, not yet normalised)."""
    response = transport.request("GET", POLICY_PATH, signer=signer, retry=retry)
    return _expect(response, {200}, "policy")


def send_report(transport: Transport, signer: RequestSigner, body: bytes) -> dict[str, Any]:
    """Signed POST of one report body → ``{"report_id", "status"}`` on 202."""
    response = transport.request("POST", REPORTS_PATH, body=body, signer=signer)
    return _expect(response, {200, 201, 202}, "report")


def rotate_key(
    transport: Transport, signer: RequestSigner, *, public_key_b64: str, proof: str
) -> dict[str, Any]:
    """Signed (old key) POST announcing the new public key → ``{"key_id", "status"}``."""
    body = encode_json({"public_key": public_key_b64, "proof": proof})
    response = transport.request("POST", ROTATE_KEY_PATH, body=body, signer=signer)
    return _expect(response, {200, 201}, "key rotation")
