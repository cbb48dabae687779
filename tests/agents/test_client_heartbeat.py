"""The agent's heartbeat thread on its own (no server): the interval the server asks for, one
signed beat per step of the batch not reported yet (`running` only for the step being run),
no more beats for a step whose attempt is over (403/404/409), the next beat retrying after a
network error, and the thread stopping with the batch."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import pytest

from agents.client.heartbeat import Heartbeats, heartbeat_path, interval_from
from agents.client.transport import ServerUnavailable, Transport


@pytest.mark.parametrize(
    ("answer", "interval"),
    [
        ({"heartbeat_seconds": 100, "lease_seconds": 300}, 100.0),
        ({"lease_seconds": 30}, 10.0),
        ({"heartbeat_seconds": 0.2}, 1.0),  # never faster than once a second
        ({"heartbeat_seconds": "soon", "lease_seconds": True}, 100.0),
        ({}, 100.0),
    ],
)
def test_the_interval_comes_from_the_server(answer, interval):
    assert interval_from(answer) == interval


class FakeResponse:
    def __init__(self, status: int) -> None:
        self.status_code = status
        self.text = "{}"
        self.headers: dict[str, str] = {}

    def json(self):
        return {}


class FakeTransport:
    """Answers each POST with the next status of its script (a status per step path)."""

    def __init__(self, statuses: dict[str, list[int | Exception]]) -> None:
        self.statuses = statuses
        self.sent: list[tuple[str, dict]] = []
        self.timeout = (1.0, 1.0)
        self.session = SimpleNamespace(close=lambda: None)

    def request(self, method, path, *, body=None, signer=None, retry=True):
        assert method == "POST" and signer == "signer" and retry is False
        self.sent.append((path, json.loads(body)))
        answer = self.statuses[path].pop(0) if self.statuses[path] else 200
        if isinstance(answer, Exception):
            raise answer
        return FakeResponse(answer)


def batch(transport: FakeTransport, interval: float = 60) -> Heartbeats:
    agent = SimpleNamespace(transport=Transport("http://127.0.0.1:9"), signer="signer")
    steps = [{"id": n, "attempt": n, "heartbeat_url": f"/beat/{n}/"} for n in (1, 2, 3)]
    beats = Heartbeats(agent, steps, interval)
    beats.transport = transport  # type: ignore[assignment]
    return beats


def test_one_beat_per_step_still_waiting_for_its_result():
    transport = FakeTransport(
        {"/beat/1/": [], "/beat/2/": [409], "/beat/3/": [ServerUnavailable("down")]}
    )
    beats = batch(transport)
    beats.running({"id": 1})
    beats.beat()
    assert transport.sent == [
        ("/beat/1/", {"attempt": 1, "running": True}),
        ("/beat/2/", {"attempt": 2, "running": False}),
        ("/beat/3/", {"attempt": 3, "running": False}),
    ]
    assert beats.sent == 1 and list(beats.refused) == [2]
    # Step 2's attempt is over: no more beats for it; step 3's network error is retried; step
    # 1's result is in: no more beats for it either.
    transport.sent.clear()
    beats.finished({"id": 1})
    beats.beat()
    assert [path for path, _ in transport.sent] == ["/beat/3/"]
    assert beats.sent == 2


def test_an_error_for_a_step_reported_meanwhile_is_not_a_refusal():
    transport = FakeTransport({"/beat/1/": [409], "/beat/2/": [], "/beat/3/": []})
    beats = batch(transport)
    original = transport.request

    def result_lands_first(*args, **kwargs):
        if args[1] == "/beat/1/":
            beats.finished({"id": 1})  # the result was posted while the beat was in flight
        return original(*args, **kwargs)

    transport.request = result_lands_first  # type: ignore[method-assign]
    beats.beat()
    assert beats.refused == {}


def test_the_thread_beats_every_interval_and_stops_with_the_batch():
    transport = FakeTransport({"/beat/1/": [], "/beat/2/": [], "/beat/3/": []})
    beats = batch(transport, interval=1)
    started = time.monotonic()
    with beats:
        time.sleep(0.5)
        assert transport.sent == []  # the first beat comes after an interval
        while len(transport.sent) < 6 and time.monotonic() - started < 20:
            time.sleep(0.05)
    assert len(transport.sent) >= 6 and time.monotonic() - started >= 2  # two beats of three
    count = len(transport.sent)
    time.sleep(1.5)
    assert len(transport.sent) == count  # stopped with the batch


def test_the_default_path_is_the_contracts():
    assert heartbeat_path({"id": 7}) == "/api/v1/agents/deployments/7/heartbeat/"
