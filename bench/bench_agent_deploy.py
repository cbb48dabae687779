"""The agent executor's server side: what one step costs through the signed endpoints.

N machines, each with an enrolled agent bound to its CI, are the targets of one release
deployed with the `agent` executor (3 steps each, one automatic wave). Every agent then does
what `itsm-agent deploy` does, in process through Django's test client (no network, no
gunicorn): a signed GET of `agents/deployments/` (claims its next step) and a signed POST of the
result, until nothing is left. Baseline in the same run: the signed GET of `agents/policy/`
(signature check, nonce, one row), the floor of any signed agent request.

Figures: p50/p95 of claim, result and baseline requests; steps per second overall.
"""

from __future__ import annotations

import json
import sys
import time
import uuid

from common import Context, log, percentile, setup_django

BENCH = "agent_deploy"
TARGETS_FULL = 300


def _meta(prepared) -> dict[str, str]:
    meta = {}
    for name, value in prepared.headers.items():
        key = name.upper().replace("-", "_")
        meta[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"] = value
    return meta


def run(ctx: Context) -> list[dict]:
    setup_django(ctx.database_url)
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from django.db.models import Q
    from django.test import Client

    from agents.client.keys import public_key_b64
    from agents.client.signing import RequestSigner, build_request
    from agents.models import Agent
    from agents.services import default_group
    from cmdb.models import CIType, ConfigurationItem
    from itsm.audit import ChangeContext
    from releases import services
    from releases.engine.advance import advance

    n = max(10, round(TARGETS_FULL * ctx.scale))
    run_id = uuid.uuid4().hex[:8]
    system = ChangeContext(actor=None, source="system")
    ci_type, _ = CIType.objects.get_or_create(
        slug="bench-deploy", defaults={"name": "Bench deploy target"}
    )
    cis = ConfigurationItem.objects.bulk_create(
        [ConfigurationItem(name=f"bench-deploy-{run_id}-{i}", ci_type=ci_type) for i in range(n)]
    )
    signers = []
    group = default_group()
    for ci in cis:
        key = Ed25519PrivateKey.generate()
        agent = Agent.objects.create(
            key_id=f"agt_benchdep_{run_id}_{ci.pk}",
            name=ci.name,
            public_key=public_key_b64(key),
            status="active",
            group=group,
            ci=ci,
        )
        signers.append(RequestSigner(agent.key_id, key))
    steps = [
        {"phase": "install", "name": "check", "module": "check_software", "params": {"name": "x"}},
        {"phase": "install", "name": "run", "module": "shell", "params": {"cmd": "true"}},
        {"phase": "verify", "name": "attrs", "module": "set_attributes", "params": {}},
    ]
    package = services.package_create(
        context=system, name=f"bench-deploy-{run_id}", version="1", steps=steps
    )
    release = services.release_create(
        context=system,
        title=f"bench agent deploy {run_id}",
        target_filter={"ci_type": "bench-deploy", "q": f"bench-deploy-{run_id}-"},
        wave_plan=[{"name": "all", "selector": {}, "gate": {"kind": "automatic"}}],
    )
    _to_readiness(services, system, release, package)
    deployment = services.deployment_start(context=system, release_id=release.pk, executor="agent")
    advance(deployment.pk)
    log(f"agent_deploy: {n} targets x {len(steps)} steps, deployment {deployment.pk}")

    client = Client(HTTP_HOST="localhost")
    url = "http://localhost/api/v1/agents/deployments/"
    claims, results, baseline = [], [], []
    started = time.perf_counter()
    done = 0
    for signer in signers:
        prepared = build_request("GET", "http://localhost/api/v1/agents/policy/", signer=signer)
        t0 = time.perf_counter()
        assert client.get("/api/v1/agents/policy/", **_meta(prepared)).status_code == 200
        baseline.append((time.perf_counter() - t0) * 1000)
        while True:
            prepared = build_request("GET", url, signer=signer)
            t0 = time.perf_counter()
            answer = client.get("/api/v1/agents/deployments/", **_meta(prepared))
            claims.append((time.perf_counter() - t0) * 1000)
            waiting = answer.json()["steps"]
            if not waiting:
                break
            for step in waiting:
                body = json.dumps({"attempt": step["attempt"], "ok": True}).encode()
                path = step["result_url"]
                prepared = build_request(
                    "POST", f"http://localhost{path}", body=body, signer=signer
                )
                t0 = time.perf_counter()
                posted = client.generic(
                    "POST", path, data=body, content_type="application/json", **_meta(prepared)
                )
                results.append((time.perf_counter() - t0) * 1000)
                assert posted.status_code == 200, posted.content
                done += 1
    total = time.perf_counter() - started
    advance(deployment.pk)
    deployment.refresh_from_db()
    log(f"agent_deploy: {done} steps in {total:.1f}s, deployment {deployment.status}")
    extra = {"targets": n, "steps_per_target": len(steps), "status": deployment.status}
    records = []
    for case, values in (("claim", claims), ("result", results), ("baseline_policy", baseline)):
        for p in (50, 95):
            records.append(
                ctx.emit(BENCH, case, f"p{p}_ms", percentile(values, p), len(values), **extra)
            )
    records.append(ctx.emit(BENCH, "overall", "steps_per_s", done / total, done, **extra))
    # Leave the bench database as it was: the release's rows, then the agents and CIs.
    deployment.delete()
    release.delete()
    package.delete()
    Agent.objects.filter(key_id__startswith=f"agt_benchdep_{run_id}_").delete()
    ConfigurationItem.objects.filter(Q(name__startswith=f"bench-deploy-{run_id}-")).delete()
    return records


def _to_readiness(services, system, release, package) -> None:
    """planning → readiness with a "go", through the services (an approved RFC included)."""
    from django.contrib.auth import get_user_model

    from changes.models import Change

    owner, _ = get_user_model().objects.get_or_create(username="bench-release")
    change = Change.objects.create(
        number=f"RFC-B{release.pk:06d}", title="bench", status="approved", originator=owner
    )
    services.release_add_change(context=system, release_id=release.pk, change_id=change.pk)
    services.release_to_build(context=system, release_id=release.pk)
    services.release_update(context=system, release_id=release.pk, data={"package": package})
    services.release_to_acceptance(context=system, release_id=release.pk)
    services.test_result_record(
        context=system, release_id=release.pk, name="lab", passed=True, proves_backout=True
    )
    services.release_to_readiness(context=system, release_id=release.pk)
    from releases.models import ReadinessReview

    services.readiness_update(
        context=system,
        release_id=release.pk,
        checklist=dict.fromkeys(ReadinessReview.CHECKLIST, True),
    )
    services.readiness_decide(context=system, release_id=release.pk, decision="go")


if __name__ == "__main__":
    import argparse

    from common import DEFAULT_DATABASE_URL, ensure_database
    from generate import migrate

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    args = parser.parse_args()
    ensure_database(args.database_url)
    migrate(args.database_url)
    run(Context(args.database_url, args.scale))
    sys.exit(0)
