"""The agent's spool is never blocked by one refused report (issue 7, item 3).

A 4xx about the body is moved aside into rejected/ with the server's answer; 401, 5xx and
network errors keep the report queued (5xx and network errors are retried by the transport).
No database, no HTTP server: a scripted session answers.
"""

from __future__ import annotations

import io
import json

import pytest
import requests

from agents.client import api
from agents.client.runner import flush_spool
from agents.client.spool import Spool
from agents.client.transport import RetryPolicy, Transport


class ScriptedSession(requests.Session):
    """Answers each request with the next scripted (status, body) or raises an exception."""

    def __init__(self, script):
        super().__init__()
        self.script = list(script)
        self.sent: list[requests.PreparedRequest] = []

    def send(self, prepared, **kwargs):
        self.sent.append(prepared)
        step = self.script.pop(0) if self.script else (202, {"report_id": 1, "status": "ok"})
        if isinstance(step, Exception):
            raise step
        status, body = step
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(body).encode()
        response.raw = io.BytesIO(b"")
        response.headers["Content-Type"] = "application/json"
        response.url = prepared.url
        return response


class NoSigner:
    def sign(self, *args, **kwargs):  # the transport is exercised without signatures
        return None


def transport(script, retries=2):
    session = ScriptedSession(script)
    return (
        Transport(
            "https://cmdb.example.org",
            retry=RetryPolicy(retries=retries, base_delay=0.01, max_delay=0.01),
            sleep=lambda seconds: None,
            session=session,
        ),
        session,
    )


@pytest.fixture
def spool(tmp_path):
    spool = Spool(tmp_path / "spool")
    for seq in (1, 2, 3):
        spool.put(json.dumps({"seq": seq}).encode())
    return spool


@pytest.fixture(autouse=True)
def _unsigned(monkeypatch):
    from agents.client import transport as transport_mod

    real = transport_mod.build_request

    def build(method, url, *, body=None, signer=None, user_agent=""):
        return real(method, url, body=body, signer=None, user_agent=user_agent)

    monkeypatch.setattr(transport_mod, "build_request", build)


@pytest.mark.parametrize("status", [400, 409, 413, 415, 422])
def test_a_refused_report_moves_aside_with_the_answer_and_the_rest_is_delivered(spool, status):
    answer = {"detail": "collected_at: '2026-02-30' is not a valid date-time"}
    client, session = transport([(status, answer)])
    result = flush_spool(spool, client, NoSigner())
    assert (result.sent, result.rejected, result.remaining) == (2, 1, 0)
    assert len(session.sent) == 3  # refused once, not retried
    (moved,) = spool.rejected()
    assert json.loads(moved.read_bytes()) == {"seq": 1}
    saved = moved.with_name(moved.stem + ".answer.txt").read_text()
    assert f"HTTP {status}" in saved and "2026-02-30" in saved
    assert spool.pending() == []


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_server_error_is_retried_and_keeps_the_spool(spool, status):
    client, session = transport([(status, {"detail": "boom"})] * 3)
    result = flush_spool(spool, client, NoSigner())
    assert result.error and result.sent == 0 and result.remaining == 3
    assert len(session.sent) == 3  # the first attempt and two retries
    assert spool.rejected() == []


def test_a_server_error_then_success_delivers_everything(spool):
    client, _ = transport([(503, {}), (500, {})])
    result = flush_spool(spool, client, NoSigner())
    assert (result.sent, result.rejected, result.remaining) == (3, 0, 0)


@pytest.mark.parametrize("status", [408, 429])
def test_timeouts_and_rate_limits_are_retried_not_rejected(spool, status):
    client, _ = transport([(status, {})])
    result = flush_spool(spool, client, NoSigner())
    assert (result.sent, result.rejected, result.remaining) == (3, 0, 0)


def test_a_network_error_is_retried_and_keeps_the_spool(spool):
    client, session = transport([requests.ConnectionError("refused")] * 3)
    result = flush_spool(spool, client, NoSigner())
    assert result.error and result.remaining == 3 and spool.rejected() == []
    assert len(session.sent) == 3


@pytest.mark.parametrize("status", [401, 403, 404])
def test_auth_failures_and_a_wrong_url_keep_the_reports(spool, status):
    client, session = transport([(status, {"detail": "no"})])
    result = flush_spool(spool, client, NoSigner())
    assert result.remaining == 3 and result.rejected == 0 and spool.rejected() == []
    assert len(session.sent) == 1


def test_only_the_last_rejected_reports_are_kept(tmp_path):
    spool = Spool(tmp_path / "spool", keep_rejected=2)
    for seq in range(4):
        spool.put(json.dumps({"seq": seq}).encode())
    client, _ = transport([(400, {"detail": str(n)}) for n in range(4)])
    result = flush_spool(spool, client, NoSigner())
    assert result.rejected == 4
    kept = spool.rejected()
    assert [json.loads(p.read_bytes())["seq"] for p in kept] == [2, 3]
    answers = sorted(p.name for p in spool.rejected_directory.glob("*.answer.txt"))
    assert answers == sorted(p.stem + ".answer.txt" for p in kept)


def test_is_rejection():
    assert api.is_rejection(400) and api.is_rejection(409) and api.is_rejection(422)
    assert not any(api.is_rejection(s) for s in (200, 202, 401, 403, 404, 408, 429, 500, 503))
