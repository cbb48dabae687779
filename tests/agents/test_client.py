"""The agent program (`agents.client`): keys, signatures, collector, spool, transport, CLI.

No database: these tests talk to a tiny HTTP server in a thread that checks every signature
with the same library a server would use.
"""

from __future__ import annotations

import base64
import datetime
import functools
import hashlib
import json
import os
import socket
import stat
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from http_message_signatures import (
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    InvalidSignature,
    algorithms,
)

from agents.client import api, cli, keys
from agents.client.collect import collect_report
from agents.client.collect import events as events_mod
from agents.client.collect import security as security_mod
from agents.client.collect import software as software_mod
from agents.client.collect.storage import Filesystem
from agents.client.config import AgentConfig, StatePaths, load_policy
from agents.client.runner import Agent, flush_spool, run_cycle
from agents.client.signing import RequestSigner, build_request
from agents.client.spool import Spool
from agents.client.transport import RetryPolicy, ServerUnavailable, Transport

REPORT_KEYS = {"format", "collected_at", "agent", "device", "network", "storage", "software"}
REPORT_KEYS |= {"security", "events"}
DEVICE_KEYS = {"hostname", "uuid", "serial_number", "manufacturer", "model", "os", "cpu"}
DEVICE_KEYS |= {"memory_mb"}


# --- helpers ---------------------------------------------------------------------------------


class _Resolver(HTTPSignatureKeyResolver):
    def __init__(self, public_keys: dict[str, Ed25519PublicKey]) -> None:
        self.public_keys = public_keys

    def resolve_public_key(self, key_id: str):
        return self.public_keys.get(key_id)

    def resolve_private_key(self, key_id: str):  # pragma: no cover - verification only
        raise NotImplementedError


def verify(message: Any, body: bytes | None, public_keys: dict[str, Ed25519PublicKey]) -> list:
    """Verify as the server does: same library, components required, body digest checked."""
    verifier = HTTPMessageVerifier(
        signature_algorithm=algorithms.ED25519, key_resolver=_Resolver(public_keys)
    )
    required = ("@method", "@path", "content-digest") if body is not None else ("@method", "@path")
    return verifier.verify(message, require_components=required, body=body)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class FakeServer:
    """A scripted agent API: queued answers per path, every request recorded and verified."""

    def __init__(self, port: int, public_keys: dict[str, Ed25519PublicKey]) -> None:
        self.port = port
        self.public_keys = public_keys
        self.requests: list[dict[str, Any]] = []
        self.queued: dict[str, list[tuple[int, dict]]] = {}
        self.defaults: dict[str, tuple[int, dict]] = {
            api.POLICY_PATH: (200, {"interval_seconds": 600, "collect": {"software": False}}),
            api.REPORTS_PATH: (202, {"report_id": "r", "status": "queued"}),
        }
        self.accepted_reports: list[dict] = []
        self.nonces: set[str] = set()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                status, answer = server.answer(self.command, self.path, dict(self.headers), body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, method: str, path: str, headers: dict, body: bytes | None):
        record = {"method": method, "path": path, "headers": headers, "body": body}
        if "Signature" in headers:
            message = SimpleNamespace(
                method=method, url=f"http://127.0.0.1:{self.port}{path}", headers=headers
            )
            try:
                result = verify(message, body, self.public_keys)
                record["verified"] = True
                nonce = result[0].nonce
                record["replay"] = nonce in self.nonces
                self.nonces.add(nonce)
            except InvalidSignature as exc:
                record["verified"] = False
                record["error"] = str(exc)
        self.requests.append(record)
        if "Signature" in headers and (not record["verified"] or record["replay"]):
            return 401, {"detail": "bad signature"}
        queue = self.queued.get(path) or []
        status, answer = queue.pop(0) if queue else self.defaults.get(path, (404, {}))
        if path == api.REPORTS_PATH and status == 202:
            self.accepted_reports.append(json.loads(body))
        return status, answer

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def state(tmp_path) -> StatePaths:
    return StatePaths(tmp_path / "state").create()


@pytest.fixture
def enrolled(state) -> tuple[StatePaths, Any]:
    key = keys.generate_private_key()
    keys.save_private_key(key, state.private_key)
    return state, key


def make_agent(paths: StatePaths, key, port: int, sleeps: list[float]) -> Agent:
    config = AgentConfig(server=f"http://127.0.0.1:{port}", key_id="agent-1", status="active")
    config.save(paths)
    transport = Transport(
        config.server,
        timeout=(2, 5),
        retry=RetryPolicy(retries=2, base_delay=1, max_delay=4),
        sleep=sleeps.append,
    )
    return Agent(
        paths=paths,
        config=config,
        transport=transport,
        signer=RequestSigner("agent-1", key),
        spool=Spool(paths.spool),
    )


def numbered_collector():
    counter = {"n": 0}

    def collect(policy: dict) -> dict:
        counter["n"] += 1
        return {"format": "itsm-inventory/1", "seq": counter["n"], "policy": policy}

    return collect


# --- keys ------------------------------------------------------------------------------------


def test_key_pair_is_saved_private_and_loads_back(tmp_path):
    key = keys.generate_private_key()
    path = tmp_path / "state" / "private_key.pem"
    keys.save_private_key(key, path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert b"PRIVATE KEY" in path.read_bytes()
    loaded = keys.load_private_key(path)
    assert keys.public_key_b64(loaded) == keys.public_key_b64(key)
    raw = base64.b64decode(keys.public_key_b64(key), validate=True)
    assert len(raw) == 32
    assert keys.public_key_raw(keys.public_key_from_b64(keys.public_key_b64(key))) == raw
    assert not list(path.parent.glob(".tmp-*"))


def test_loose_key_mode_is_tightened_and_garbage_is_refused(tmp_path):
    path = tmp_path / "private_key.pem"
    keys.save_private_key(keys.generate_private_key(), path)
    os.chmod(path, 0o644)
    keys.load_private_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    path.write_bytes(b"not a key")
    with pytest.raises(keys.KeyFileError):
        keys.load_private_key(path)
    with pytest.raises(keys.KeyFileError):
        keys.load_private_key(tmp_path / "missing.pem")


def test_keygen_command_is_idempotent(tmp_path, capsys):
    state_dir = tmp_path / "s"
    assert cli.main(["keygen", "--state-dir", str(state_dir)]) == 0
    first = json.loads(capsys.readouterr().out)["public_key"]
    assert cli.main(["--state-dir", str(state_dir), "keygen"]) == 0
    assert json.loads(capsys.readouterr().out)["public_key"] == first
    assert stat.S_IMODE((state_dir / "private_key.pem").stat().st_mode) == 0o600


# --- signatures ------------------------------------------------------------------------------


def test_signed_post_verifies_with_the_library_and_covers_the_body():
    key = keys.generate_private_key()
    body = api.encode_json({"format": "itsm-inventory/1", "device": {"hostname": "h\u00e9"}})
    request = build_request(
        "POST",
        "https://itsm.example/api/v1/agents/reports/",
        body=body,
        signer=RequestSigner("k-42", key),
    )
    public = {"k-42": keys.public_key_from_b64(keys.public_key_b64(key))}

    assert request.body == body
    assert request.headers["Content-Type"] == "application/json"
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    assert request.headers["Content-Digest"] == f"sha-256=:{digest}:"
    sig_input = request.headers["Signature-Input"]
    assert sig_input.startswith('sig1=("@method" "@path" "content-digest");created=')
    assert 'keyid="k-42"' in sig_input and 'alg="ed25519"' in sig_input
    assert request.headers["Signature"].startswith("sig1=:")

    [result] = verify(request, body, public)
    assert result.label == "sig1"
    assert abs(result.parameters["created"] - datetime.datetime.now().timestamp()) < 10
    nonce = result.nonce
    assert len(base64.urlsafe_b64decode(nonce + "=" * (-len(nonce) % 4))) >= 16
    assert "=" not in nonce

    with pytest.raises(InvalidSignature):
        verify(request, body.replace(b"h\xc3\xa9", b"hx"), public)
    request.url = "https://itsm.example/api/v1/agents/policy/"
    with pytest.raises(InvalidSignature):
        verify(request, body, public)


def test_signed_get_covers_method_and_path_only():
    key = keys.generate_private_key()
    signer = RequestSigner("k-1", key)
    request = build_request("GET", "https://itsm.example/api/v1/agents/policy/", signer=signer)
    assert "Content-Digest" not in request.headers
    assert request.headers["Signature-Input"].startswith('sig1=("@method" "@path");created=')
    verify(request, None, {"k-1": key.public_key()})
    with pytest.raises(InvalidSignature):
        verify(request, None, {"k-1": keys.generate_private_key().public_key()})


def test_every_signature_has_a_fresh_nonce():
    signer = RequestSigner("k", keys.generate_private_key())
    url = "https://itsm.example/api/v1/agents/reports/"
    inputs = {build_request("POST", url, body=b"{}", signer=signer).headers["Signature-Input"]}
    inputs |= {build_request("POST", url, body=b"{}", signer=signer).headers["Signature-Input"]}
    assert len(inputs) == 2


def test_rotation_proof_is_signed_by_the_new_key():
    new_key = keys.generate_private_key()
    proof = base64.b64decode(keys.rotation_proof(new_key, "k-9"))
    message = f"itsm-key-rotation:k-9:{keys.public_key_b64(new_key)}".encode()
    new_key.public_key().verify(proof, message)  # raises if wrong


# --- collector -------------------------------------------------------------------------------


def test_collector_reports_this_machine():
    report = collect_report()
    json.dumps(report)  # serialisable as is

    assert set(report) >= REPORT_KEYS
    assert report["format"] == "itsm-inventory/1"
    assert report["collected_at"].endswith("Z")
    datetime.datetime.fromisoformat(report["collected_at"].replace("Z", "+00:00"))
    assert report["agent"]["name"] == "itsm-agent"
    assert set(report["device"]) >= DEVICE_KEYS
    assert report["device"]["hostname"] == socket.gethostname()[:255]
    assert set(report["device"]["os"]) >= {"name", "version", "kernel"}
    assert report["device"]["memory_mb"] > 0
    assert {"model", "cores", "threads"} <= set(report["device"]["cpu"])
    assert all(nic["name"] != "lo" for nic in report["network"])
    assert any(fs["mount"] == "/" for fs in report["storage"])
    dpkg = [item for item in report["software"] if item["source"] == "dpkg"]
    assert dpkg, "Debian: dpkg packages expected"
    assert all(set(item) == {"name", "version", "vendor", "source"} for item in dpkg)
    assert any(item["name"] == "dpkg" for item in dpkg)
    assert any(
        item["source"] == "pip" and item["name"].lower() == "psutil" for item in report["software"]
    )
    assert {"firewall_enabled", "firewall", "ssh", "pending_updates"} <= set(report["security"])
    assert isinstance(report["events"], list) and len(report["events"]) <= 200
    assert len(report["software"]) <= 20000


def test_collector_honours_the_policy():
    report = collect_report({"collect": {"software": False, "hardware": False}})
    assert "software" not in report
    assert "network" not in report
    assert "cpu" not in report["device"]
    assert report["device"]["hostname"]
    assert {"storage", "security", "events"} <= set(report)


def test_a_broken_source_does_not_break_the_report(monkeypatch):
    def boom():
        raise RuntimeError("dpkg database on fire")

    monkeypatch.setattr(software_mod, "dpkg_packages", boom)
    monkeypatch.setattr(security_mod, "firewall", boom)
    report = collect_report()
    assert not any(item["source"] == "dpkg" for item in report["software"])
    assert report["security"]["firewall_enabled"] is None


def test_dpkg_status_parsing(tmp_path):
    status = tmp_path / "status"
    status.write_text(
        "Package: good\nStatus: install ok installed\nVersion: 1:2.0-1\n"
        "Maintainer: Debian Team <t@d.org>\nDescription: x\n more\n\n"
        "Package: removed\nStatus: deinstall ok config-files\nVersion: 1.0\n\n"
        f"Package: long\nStatus: install ok installed\nVersion: {'9' * 400}\n"
    )
    packages = software_mod.dpkg_packages(status)
    assert [p["name"] for p in packages] == ["good", "long"]
    assert packages[0] == {
        "name": "good",
        "version": "1:2.0-1",
        "vendor": "Debian Team <t@d.org>",
        "source": "dpkg",
    }
    assert len(packages[1]["version"]) == 255
    assert software_mod.dpkg_packages(tmp_path / "missing") == []


def test_sshd_config_parsing(tmp_path):
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "10-hard.conf").write_text("PasswordAuthentication no\n")
    config = tmp_path / "sshd_config"
    config.write_text(
        "# comment\nInclude conf.d/*.conf\nPermitRootLogin = No\n"
        "PasswordAuthentication yes\nMatch User bob\n  PermitRootLogin yes\n"
    )
    assert security_mod.ssh_settings(config) == {
        "permit_root_login": "no",
        "password_authentication": False,
    }
    assert security_mod.ssh_settings(tmp_path / "none") == {
        "permit_root_login": None,
        "password_authentication": None,
    }


def test_failed_logins_from_syslog_lines():
    now = datetime.datetime(2026, 11, 22, 12, 0, tzinfo=datetime.UTC)
    lines = [
        "2026-11-22T10:00:00.123+00:00 web1 sshd[1]: Failed password for root from 203.0.113.9 port 22 ssh2",
        "2026-11-22T10:00:00+00:00 web1 sshd[1]: pam_unix(sshd:auth): authentication failure; rhost=x",
        "2026-11-22T10:01:00+00:00 web1 sshd[1]: Accepted publickey for alice",
        "2026-11-20T10:00:00+00:00 web1 sshd[1]: Failed password for old from 203.0.113.9",
        "2026-11-22T11:00:00+00:00 web1 sudo: pam_unix(sudo:auth): authentication failure; user=bob",
        "garbage Failed password for nobody",
    ]
    found = events_mod.failed_logins_from_lines(lines, now)
    assert [event["at"] for event in found] == ["2026-11-22T10:00:00Z", "2026-11-22T11:00:00Z"]
    assert found[0]["kind"] == "failed_login"
    assert found[0]["detail"].startswith("Failed password for root")


def test_nearly_full_disks_become_events_and_events_are_bounded():
    full = Filesystem("/data", "/dev/sdb1", "xfs", 1000, 950, 95.0)
    fine = Filesystem("/", "/dev/sda1", "ext4", 1000, 100, 10.0)
    disk = events_mod.disk_events([full, fine], "2026-11-22T12:00:00Z")
    assert [e["kind"] for e in disk] == ["disk_nearly_full"]
    assert "/data" in disk[0]["detail"]
    logins = [{"at": str(i), "kind": "failed_login", "detail": ""} for i in range(500)]
    combined = events_mod.combine(disk, logins)
    assert len(combined) == 200
    assert combined[0]["kind"] == "disk_nearly_full"
    assert combined[-1]["at"] == "499"


def test_collect_command_prints_the_report(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("ITSM_AGENT_STATE_DIR", str(tmp_path / "nowhere"))
    assert cli.main(["collect"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) >= REPORT_KEYS
    assert not (tmp_path / "nowhere").exists()  # collecting writes nothing


def test_the_agent_does_not_import_django():
    code = (
        "import sys, agents.client.cli, agents.client.collect;"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'django', 'rest_framework', 'itsm', 'cmdb', 'incidents', 'changes', 'releases'});"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


# --- spool -----------------------------------------------------------------------------------


def test_spool_keeps_order_and_drops_the_oldest_beyond_its_cap(tmp_path, caplog):
    spool = Spool(tmp_path / "spool", max_files=3)
    for n in range(5):
        spool.put(f'{{"n": {n}}}'.encode())
    queued = spool.pending()
    assert [json.loads(spool.read(p))["n"] for p in queued] == [2, 3, 4]
    assert "dropping the 1 oldest" in caplog.text
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in queued)
    (tmp_path / "spool" / ".tmp-half-written").write_bytes(b"{")
    assert len(spool) == 3
    spool.remove(queued[0])
    assert len(spool) == 2

    small = Spool(tmp_path / "small", max_bytes=25)
    for n in range(4):
        small.put(f'{{"n": {n}, "pad": "xx"}}'.encode())  # 21 bytes each
    assert [json.loads(small.read(p))["n"] for p in small.pending()] == [3]


def test_reports_survive_an_outage_and_arrive_in_order_exactly_once(enrolled):
    paths, key = enrolled
    port = free_port()
    sleeps: list[float] = []
    agent = make_agent(paths, key, port, sleeps)
    collector = numbered_collector()

    # 1. Nothing listens: the report stays queued, the policy falls back to the default.
    result = run_cycle(agent, collector=collector)
    assert (result.sent, result.remaining) == (0, 1)
    assert "ConnectionError" in result.error
    assert len(sleeps) == 2  # two retries, then give up until the next cycle

    server = FakeServer(port, {"agent-1": key.public_key()})
    try:
        # 2. The server is up but overloaded: 503 on every report attempt.
        server.queued[api.REPORTS_PATH] = [(503, {"detail": "busy"})] * 3
        result = run_cycle(agent, collector=collector)
        assert (result.sent, result.remaining) == (0, 2)
        assert [r["method"] for r in server.requests] == ["GET"] + ["POST"] * 3
        assert load_policy(paths)["collect"]["software"] is False
        assert load_policy(paths)["interval_seconds"] == 600

        # 3. Healthy again: the backlog goes out oldest first, then the new report.
        result = run_cycle(agent, collector=collector)
        assert (result.sent, result.remaining, result.error) == (3, 0, "")
        assert [report["seq"] for report in server.accepted_reports] == [1, 2, 3]
        assert all(r["verified"] and not r["replay"] for r in server.requests)
        assert server.accepted_reports[2]["policy"]["collect"]["software"] is False
        assert agent.spool.pending() == []
    finally:
        server.stop()
    assert all(delay <= 4 for delay in sleeps)


def test_a_rejected_report_is_dropped_and_the_rest_delivered(enrolled, caplog):
    paths, key = enrolled
    port = free_port()
    agent = make_agent(paths, key, port, [])
    agent.spool.put(b'{"seq": 1}')
    agent.spool.put(b'{"seq": 2}')
    server = FakeServer(port, {"agent-1": key.public_key()})
    try:
        server.queued[api.REPORTS_PATH] = [(400, {"device": ["required"]})]
        result = flush_spool(agent.spool, agent.transport, agent.signer)
    finally:
        server.stop()
    assert (result.sent, result.rejected, result.remaining) == (1, 1, 0)
    assert server.accepted_reports == [{"seq": 2}]
    assert "SERVER REJECTED" in caplog.text
    assert [json.loads(p.read_bytes()) for p in (paths.spool / "rejected").glob("*.json")] == [
        {"seq": 1}
    ]


def test_an_auth_failure_keeps_the_reports_without_retrying(enrolled):
    paths, key = enrolled
    port = free_port()
    sleeps: list[float] = []
    agent = make_agent(paths, key, port, sleeps)
    agent.spool.put(b'{"seq": 1}')
    server = FakeServer(port, {})  # the server does not know this key
    try:
        result = flush_spool(agent.spool, agent.transport, agent.signer)
    finally:
        server.stop()
    assert result.auth_failed and result.remaining == 1
    assert len(server.requests) == 1 and sleeps == []


def test_backoff_is_exponential_jittered_and_bounded():
    sleeps: list[float] = []
    port = free_port()  # nothing listens
    transport = Transport(
        f"http://127.0.0.1:{port}",
        retry=RetryPolicy(retries=6, base_delay=1, max_delay=5),
        sleep=sleeps.append,
        rand=lambda: 1.0,
    )
    with pytest.raises(ServerUnavailable, match="7 attempt"):
        transport.request("GET", "/api/v1/agents/policy/")
    assert sleeps == [1, 2, 4, 5, 5, 5]
    low = RetryPolicy(retries=3, base_delay=2, max_delay=100)
    assert [low.delay(n, 0.0) for n in range(3)] == [1, 2, 4]


def test_retry_after_is_honoured_but_capped(enrolled):
    paths, key = enrolled
    port = free_port()
    sleeps: list[float] = []
    agent = make_agent(paths, key, port, sleeps)
    server = FakeServer(port, {"agent-1": key.public_key()})
    original = server.answer

    def answer(method, path, headers, body):
        original(method, path, headers, body)
        return 503, {}

    server.answer = answer  # type: ignore[method-assign]
    try:
        with pytest.raises(ServerUnavailable):
            agent.transport.request("GET", api.POLICY_PATH, signer=agent.signer)
    finally:
        server.stop()
    assert len(sleeps) == 2 and max(sleeps) <= 4


# --- enrolment and key rotation --------------------------------------------------------------


def test_enroll_command_saves_the_key_id(tmp_path, capsys):
    port = free_port()
    server = FakeServer(port, {})
    server.defaults[api.ENROLL_PATH] = (201, {"key_id": "k-77", "status": "pending"})
    state_dir = tmp_path / "s"
    try:
        server_url = f"http://127.0.0.1:{port}/"
        argv = ["enroll", "--state-dir", str(state_dir), "--server", server_url]
        code = cli.main([*argv, "--token", "one-time", "--name", "web-01"])
    finally:
        server.stop()
    assert code == 0
    [request] = server.requests
    sent = json.loads(request["body"])
    assert sent["enrollment_token"] == "one-time" and sent["name"] == "web-01"
    assert "Signature" not in request["headers"]
    key = keys.load_private_key(state_dir / "private_key.pem")
    assert sent["public_key"] == keys.public_key_b64(key)
    config = AgentConfig.load(StatePaths(state_dir))
    assert (config.key_id, config.status, config.server) == (
        "k-77",
        "pending",
        f"http://127.0.0.1:{port}",
    )
    assert json.loads(capsys.readouterr().out)["key_id"] == "k-77"
    assert cli.main(["status", "--state-dir", str(state_dir)]) == 0
    assert json.loads(capsys.readouterr().out)["key_id"] == "k-77"


def test_rotate_key_replaces_the_key_only_when_the_server_confirms(enrolled, capsys, monkeypatch):
    paths, old_key = enrolled
    sleeps: list[float] = []
    monkeypatch.setattr(cli, "Transport", functools.partial(Transport, sleep=sleeps.append))
    port = free_port()
    make_agent(paths, old_key, port, [])  # writes config.json
    public_keys = {"agent-1": old_key.public_key()}
    server = FakeServer(port, public_keys)
    proofs: list[bool] = []
    original = server.answer

    def answer(method, path, headers, body):
        status, data = original(method, path, headers, body)
        if path == api.ROTATE_KEY_PATH and status == 200:
            sent = json.loads(body)
            new_public = keys.public_key_from_b64(sent["public_key"])
            new_public.verify(
                base64.b64decode(sent["proof"]),
                f"itsm-key-rotation:agent-1:{sent['public_key']}".encode(),
            )
            proofs.append(True)
            public_keys["agent-1"] = new_public
        return status, data

    server.answer = answer  # type: ignore[method-assign]
    server.queued[api.ROTATE_KEY_PATH] = [(500, {})] * 5 + [(200, {"key_id": "agent-1"})]
    argv = ["rotate-key", "--state-dir", str(paths.root)]
    try:
        assert cli.main(argv) == 1  # five 500s: the old key stays
        assert keys.public_key_b64(keys.load_private_key(paths.private_key)) == keys.public_key_b64(
            old_key
        )
        assert paths.pending_key.exists()
        capsys.readouterr()
        assert cli.main(argv) == 0
    finally:
        server.stop()
    assert proofs == [True]
    new_key = keys.load_private_key(paths.private_key)
    assert keys.public_key_b64(new_key) != keys.public_key_b64(old_key)
    assert json.loads(capsys.readouterr().out)["public_key"] == keys.public_key_b64(new_key)
    assert not paths.pending_key.exists()
    assert stat.S_IMODE(paths.private_key.stat().st_mode) == 0o600
    assert len(sleeps) == 4


def test_a_lost_rotation_answer_is_recovered_with_the_pending_key(enrolled):
    paths, old_key = enrolled
    new_key = keys.generate_private_key()
    keys.save_private_key(new_key, paths.pending_key)
    port = free_port()
    agent = make_agent(paths, old_key, port, [])
    server = FakeServer(port, {"agent-1": new_key.public_key()})  # the server already switched
    try:
        result = run_cycle(agent, collector=numbered_collector())
    finally:
        server.stop()
    assert (result.sent, result.remaining, result.auth_failed) == (1, 0, False)
    assert not paths.pending_key.exists()
    current = keys.load_private_key(paths.private_key)
    assert keys.public_key_b64(current) == keys.public_key_b64(new_key)


def test_run_once_command_exit_codes(enrolled, monkeypatch, capsys):
    paths, key = enrolled
    port = free_port()
    make_agent(paths, key, port, [])
    sleeps: list[float] = []
    monkeypatch.setattr(cli, "Transport", functools.partial(Transport, sleep=sleeps.append))
    argv = ["run", "--once", "--state-dir", str(paths.root)]

    assert cli.main(argv) == cli.EXIT_QUEUED  # nothing listens: the report waits
    assert len(Spool(paths.spool)) == 1
    server = FakeServer(port, {"agent-1": key.public_key()})
    try:
        assert cli.main(argv) == cli.EXIT_OK
        assert len(server.accepted_reports) == 2
        assert "software" not in server.accepted_reports[1]  # the policy turned it off
        assert cli.main(["status", "--check", "--state-dir", str(paths.root)]) == cli.EXIT_OK
    finally:
        server.stop()
    status = json.loads(capsys.readouterr().out)
    assert status["check"].startswith("ok")
    assert status["spool"]["queued"] == 0
    assert status["last"]["last_result"]["sent"] == 2
    assert status["key"]["mode"] == "0o600"


# --- send: inventories made by other agents ---------------------------------------------


def test_send_wraps_xml_glpi_json_and_compressed_files():
    import gzip

    from agents.client.forward import NotAnInventory, envelope

    at = "2026-11-22T09:00:00Z"
    latin1 = '<?xml version="1.0"?><REQUEST><DEVICEID>poste-é</DEVICEID></REQUEST>'
    wrapped = envelope(latin1.encode("latin-1"), collected_at=at)
    assert wrapped == {"format": "fusion-xml", "collected_at": at, "xml": latin1}

    glpi = {"deviceid": "pc-1", "content": {"versionclient": "GLPI-Agent_v1.4"}}
    assert envelope(gzip.compress(json.dumps(glpi).encode()), collected_at=at) == {
        "format": "glpi-inventory",
        **glpi,
    }
    ours = {"format": "itsm-inventory/1", "collected_at": at, "device": {"hostname": "h"}}
    assert envelope(json.dumps(ours).encode(), collected_at=at) == ours

    for junk in (b"hello", b"[1, 2]", b'{"deviceid": "x"}'):
        with pytest.raises(NotAnInventory):
            envelope(junk, collected_at=at)
