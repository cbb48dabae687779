"""Fixtures for the agent protocol: enrolled agents with real Ed25519 keys, a signing client."""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from http_message_signatures import HTTPMessageSigner, HTTPSignatureKeyResolver, algorithms

from agents.choices import AgentStatus
from agents.models import Agent
from agents.services import default_group

REPORTS = "/api/v1/agents/reports/"


@pytest.fixture(autouse=True)
def _process_on_commit_at_once(request, monkeypatch):
    """Inside a test's wrapping transaction nothing commits: run on_commit work right away.

    Tests marked `transactional_db` keep Django's real on_commit behaviour.
    """
    marker = request.node.get_closest_marker("django_db")
    if "transactional_db" in request.fixturenames or (marker and marker.kwargs.get("transaction")):
        yield
        return
    from django.db import transaction

    monkeypatch.setattr(transaction, "on_commit", lambda func, using=None, robust=False: func())
    yield


POLICY = "/api/v1/agents/policy/"


def public_b64(key: Ed25519PrivateKey) -> str:
    return base64.b64encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


class _Resolver(HTTPSignatureKeyResolver):
    def __init__(self, key):
        self.key = key

    def resolve_private_key(self, key_id):
        return self.key

    def resolve_public_key(self, key_id):  # pragma: no cover
        return self.key.public_key()


def sign(
    method: str,
    path: str,
    body: bytes | None,
    *,
    key: Ed25519PrivateKey,
    key_id: str,
    created: dt.datetime | None = None,
    nonce: str | None = None,
    components: tuple[str, ...] | None = None,
    content_type: str = "application/json",
) -> dict[str, str]:
    """Headers of a request signed like the agent signs it, with knobs to break each rule."""
    headers = {"Content-Type": content_type} if body is not None else {}
    prepared = requests.Request(
        method, "https://itsm.example.org" + path, headers=headers, data=body
    ).prepare()
    if components is None:
        components = (
            ("@method", "@path", "content-digest") if body is not None else ("@method", "@path")
        )
    signer = HTTPMessageSigner(signature_algorithm=algorithms.ED25519, key_resolver=_Resolver(key))
    if body is not None and "content-digest" not in components:
        from http_message_signatures import ContentDigest

        ContentDigest.prepare(prepared.headers, body, use_existing_digest=False)
    signer.sign(
        prepared,
        key_id=key_id,
        created=created or dt.datetime.now(dt.UTC),
        nonce=nonce or secrets.token_urlsafe(18),
        label="sig1",
        covered_component_ids=components,
        body=body if (body is not None and "content-digest" in components) else None,
        use_existing_digest=body is not None and "content-digest" not in components,
    )
    return dict(prepared.headers)


def as_meta(headers: dict[str, str]) -> dict[str, str]:
    meta = {}
    for name, value in headers.items():
        if name.lower() == "content-type":
            continue
        if name.lower() == "content-length":
            continue
        meta["HTTP_" + name.upper().replace("-", "_")] = value
    return meta


@dataclass
class SignedAgent:
    agent: Agent
    key: Ed25519PrivateKey

    def headers(self, method, path, body, **kwargs):
        return sign(method, path, body, key=self.key, key_id=self.agent.key_id, **kwargs)

    def post(
        self,
        client,
        document: Any = None,
        *,
        body: bytes | None = None,
        path: str = REPORTS,
        **kwargs,
    ):
        if body is None:
            body = json.dumps(document, separators=(",", ":")).encode()
        content_type = kwargs.pop("content_type", "application/json")
        headers = self.headers("POST", path, body, content_type=content_type, **kwargs)
        return client.generic(
            "POST", path, data=body, content_type=content_type, **as_meta(headers)
        )

    def get(self, client, path: str = POLICY, **kwargs):
        headers = self.headers("GET", path, None, **kwargs)
        return client.get(path, **as_meta(headers))


def make_agent(status: str = AgentStatus.ACTIVE, name: str = "host") -> SignedAgent:
    key = Ed25519PrivateKey.generate()
    agent = Agent.objects.create(
        key_id="agt_" + secrets.token_urlsafe(8),
        name=name,
        public_key=public_b64(key),
        status=status,
        group=default_group(),
    )
    return SignedAgent(agent=agent, key=key)


@pytest.fixture
def signed_agent(db):
    return make_agent()


def native_report(
    hostname: str = "web-01.example.org",
    *,
    uuid: str = "4c4c4544-0042-3510-8052-b4c04f4b4d32",
    serial: str = "SRV-0001",
    packages: int = 3,
    mac: str = "52:54:00:12:34:56",
    memory_mb: int = 16384,
    extra_software: list[dict] | None = None,
) -> dict:
    """An itsm-inventory/1 report as our agent sends it."""
    software = [
        {"name": f"package-{i}", "version": f"1.{i}", "vendor": "Debian"} for i in range(packages)
    ]
    software += extra_software or []
    return {
        "format": "itsm-inventory/1",
        "collected_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "device": {
            "hostname": hostname,
            "uuid": uuid,
            "serial_number": serial,
            "manufacturer": "Dell Inc.",
            "model": "PowerEdge R650",
            "os": {"name": "Debian GNU/Linux", "version": "12", "kernel": "6.1.0-26-amd64"},
            "cpu": {"model": "Intel Xeon Silver 4310", "cores": 12, "threads": 24},
            "memory_mb": memory_mb,
        },
        "network": [{"name": "eth0", "mac": mac, "ipv4": ["10.0.0.5"], "ipv6": []}],
        "storage": [
            {
                "mount": "/",
                "device": "/dev/sda1",
                "filesystem": "ext4",
                "size_mb": 100000,
                "used_mb": 42000,
            }
        ],
        "software": software,
        "security": {"firewall_enabled": True, "ssh": {"permit_root_login": "no"}},
        "events": [
            {
                "at": "2026-11-22T08:00:00Z",
                "kind": "failed_login",
                "detail": "root from 203.0.113.9",
            }
        ],
    }
