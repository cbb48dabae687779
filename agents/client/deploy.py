"""The agent executor on the machine: fetch the steps waiting for it, run them, report each.

One pass (``itsm-agent deploy``, and the end of ``itsm-agent run``):

1. signed ``GET /api/v1/agents/deployments/``: the server claims the next step of each of this
   machine's targets and sends them with the package's artifacts (id, SHA-256, URL);
2. every artifact of the step's package is downloaded (signed when on our server) into the
   state directory and its SHA-256 computed; one that does not match what the server sent
   refuses the step: it is reported failed and nothing of it runs;
3. the step's module runs (:mod:`.modules`), then its result is posted signed to
   ``…/<step>/result/`` with the attempt it was given.

While the steps of one answer run, a thread (:mod:`.heartbeat`) posts a signed heartbeat every
``heartbeat_seconds`` (from the answer) for each of them not reported yet, so a step that runs
longer than the lease, or waits its turn behind one, is not taken for lost.

The pass repeats until the server has nothing more (the next step of a target is handed out
once the previous one's result is in), at most ``max_rounds`` times.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import api
from .heartbeat import Heartbeats, interval_from
from .modules import DeploySettings, Outcome, StepContext, run_step
from .transport import ServerUnavailable

logger = logging.getLogger(__name__)

DEPLOYMENTS_PATH = "/api/v1/agents/deployments/"
CHUNK = 1 << 16
MAX_ROUNDS = 50


class ChecksumMismatch(Exception):
    """A downloaded artifact's SHA-256 is not the one the server's library holds."""


@dataclass
class DeployResult:
    """What one deployment pass did."""

    succeeded: int = 0
    failed: int = 0
    skipped: int = 0
    refused: int = 0
    not_recorded: int = 0
    heartbeats: int = 0
    error: str = ""
    steps: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.failed or self.refused or self.not_recorded or self.error)


def fetch_batch(agent) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Signed GET of the steps waiting for this agent (claimed for it by the server), with the
    whole answer (``lease_seconds``, ``heartbeat_seconds``)."""
    response = agent.transport.request("GET", DEPLOYMENTS_PATH, signer=agent.signer, retry=False)
    data = api._expect(response, {200}, "deployments")
    steps = data.get("steps")
    return ([s for s in steps if isinstance(s, dict)] if isinstance(steps, list) else []), data


def fetch_steps(agent) -> list[dict[str, Any]]:
    """Signed GET of the steps waiting for this agent (claimed for it by the server)."""
    return fetch_batch(agent)[0]


def artifacts_dir(agent) -> Path:
    """Where downloaded artifacts are kept, by SHA-256."""
    path = agent.paths.root / "artifacts"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(agent, artifact: dict[str, Any]) -> Path:
    """The artifact's file, downloaded (signed for our server's URLs) and checked against the
    SHA-256 the server sent; raises ChecksumMismatch (the file is deleted) otherwise."""
    expected = str(artifact.get("sha256", "")).lower()
    url = str(artifact.get("url", ""))
    if len(expected) != 64 or not url:
        raise ChecksumMismatch(f"artifact {artifact.get('id')}: no usable sha256 or URL")
    folder = artifacts_dir(agent)
    final = folder / expected
    if final.exists() and sha256_of(final) == expected:
        return final
    if url.startswith("/"):
        response = agent.transport.request("GET", url, signer=agent.signer, retry=False)
    else:
        response = agent.transport.session.get(
            url, timeout=agent.transport.timeout, verify=agent.transport.verify, stream=True
        )
    if response.status_code != 200:
        api._expect(response, {200}, f"artifact {artifact.get('id')}")
    handle, partial = tempfile.mkstemp(dir=folder, prefix=".download-")
    digest = hashlib.sha256()
    try:
        with os.fdopen(handle, "wb") as out:
            for chunk in response.iter_content(CHUNK):
                digest.update(chunk)
                out.write(chunk)
        actual = digest.hexdigest()
        if actual != expected:
            raise ChecksumMismatch(
                f"artifact {artifact.get('name')} {artifact.get('version')}: SHA-256 {actual} "
                f"does not match the library's {expected}: refused"
            )
        os.replace(partial, final)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return final


def verified_files(agent, step: dict[str, Any]) -> dict[int, Path]:
    """Every artifact of the step's package, downloaded and verified (ChecksumMismatch else)."""
    refs = [a for a in step.get("artifacts") or [] if isinstance(a, dict)]
    own = step.get("artifact")
    if isinstance(own, dict) and all(a.get("id") != own.get("id") for a in refs):
        refs.append(own)
    return {ref["id"]: download(agent, ref) for ref in refs}


def post_result(agent, step: dict[str, Any], outcome: Outcome) -> dict[str, Any]:
    """Signed POST of one step's result (the attempt it was handed out with)."""
    body = api.encode_json(
        {
            "attempt": step.get("attempt"),
            "ok": outcome.ok,
            "outcome": outcome.outcome,
            "log": outcome.log[-100_000:],
        }
    )
    path = step.get("result_url") or f"{DEPLOYMENTS_PATH}{step.get('id')}/result/"
    response = agent.transport.request("POST", path, body=body, signer=agent.signer)
    return api._expect(response, {200, 201}, f"result of step {step.get('id')}")


def run_one(agent, step: dict[str, Any], settings: DeploySettings) -> Outcome:
    """Verify the artifacts, then run the step; a mismatch refuses it (never raises)."""
    try:
        files = verified_files(agent, step)
    except ChecksumMismatch as exc:
        return Outcome(False, f"REFUSED: {exc}")
    except (api.AgentAPIError, ServerUnavailable, OSError) as exc:
        return Outcome(False, f"could not download the artifacts: {exc}")
    try:
        return run_step(StepContext(step=step, settings=settings, files=files))
    except Exception as exc:  # a module's bug is the step's failure, reported
        logger.exception("step %s failed", step.get("id"))
        return Outcome(False, f"{type(exc).__name__}: {exc}")


def deploy_pass(agent, *, max_rounds: int = MAX_ROUNDS) -> DeployResult:
    """Fetch and run steps until the server has none left for this machine."""
    settings = DeploySettings.from_config(agent.config.extra.get("deploy"))
    result = DeployResult()
    if not settings.enabled:
        return result
    for _ in range(max_rounds):
        try:
            steps, answer = fetch_batch(agent)
        except (api.AgentAPIError, ServerUnavailable) as exc:
            result.error = str(exc)
            logger.warning("could not fetch deployment steps: %s", exc)
            break
        if not steps:
            break
        with Heartbeats(agent, steps, interval_from(answer)) as heartbeats:
            for step in steps:
                heartbeats.running(step)
                outcome = run_one(agent, step, settings)
                _report(agent, step, outcome, result)  # its lease still kept meanwhile
                heartbeats.finished(step)
        result.heartbeats += heartbeats.sent
    return result


def _report(agent, step: dict[str, Any], outcome: Outcome, result: DeployResult) -> None:
    """Count the outcome and post it."""
    if outcome.log.startswith("REFUSED"):
        result.refused += 1
        logger.error("step %s: %s", step.get("id"), outcome.log)
    else:
        setattr(result, outcome.outcome, getattr(result, outcome.outcome, 0) + 1)
    try:
        post_result(agent, step, outcome)
    except (api.AgentAPIError, ServerUnavailable) as exc:
        result.not_recorded += 1
        logger.warning("result of step %s not recorded: %s", step.get("id"), exc)
    result.steps.append(
        {"id": step.get("id"), "name": step.get("name"), "outcome": outcome.outcome}
    )
