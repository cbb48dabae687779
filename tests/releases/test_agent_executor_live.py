"""The agent executor end to end: the real `itsm-agent` against a live server fetches the steps
of its machine, verifies the artifact's checksum, runs the steps and posts each result signed;
the target succeeds and the CMDB shows what the release installed. A tampered checksum refuses
the step (nothing installed); a result for another agent's step is refused."""

from __future__ import annotations

import json

import pytest

from agents.client import cli
from agents.client.keys import load_private_key
from agents.models import Agent
from agents.services import enrollment_token_create
from cmdb.history import ChangeContext
from cmdb.models import ConfigurationItem, InstalledSoftware
from itsm import roles
from releases import services
from releases.choices import DeploymentStatus, StepState, TargetState
from releases.models import DeploymentStep, DeploymentTarget, SoftwareArtifact
from tests.agents.conftest import SignedAgent, make_agent
from tests.agents.test_agent_live import fast_retries  # noqa: F401 (fixture)
from tests.releases.conftest import ctx, make_release

pytestmark = pytest.mark.django_db(transaction=True)

ONE_WAVE = [
    {
        "name": "All",
        "selector": {},
        "gate": {"kind": "automatic", "min_success_pct": 100, "bake_minutes": 0},
    }
]


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def steps_for(check_name: str, tool: str):
    return [
        {
            "phase": "install",
            "name": "Install the tool",
            "module": "install_package",
            "params": {"name": tool, "vendor": "Acme", "version": "1.0"},
        },
        {"phase": "install", "name": "Say true", "module": "shell", "params": {"cmd": "true"}},
        {
            "phase": "verify",
            "name": "Something installed",
            "module": "check_software",
            "params": {"name": check_name},
        },
        {
            "phase": "backout",
            "name": "Remove",
            "module": "remove_package",
            "params": {"name": tool},
        },
    ]


def link_artifact(release) -> SoftwareArtifact:
    """Point the install step at the package's artifact (the agent downloads and checks it)."""
    artifact = release.package.artifacts.get()
    release.package.steps.filter(module="install_package").update(artifact=artifact)
    return artifact


@pytest.fixture
def enrolled(live_server, tmp_path, make_user, fast_retries):  # noqa: F811
    """The real agent, enrolled and active, its machine reported (CI bound), with deployment
    settings: shell allowed for `true` only, installs copy the artifact into `installed/`."""
    manager = make_user(roles.CMDB_MANAGER)
    token, _ = enrollment_token_create(context=ChangeContext(actor=manager), auto_approve=True)
    state_dir = tmp_path / "agent"
    state = ["--state-dir", str(state_dir)]
    assert cli.main(["enroll", "--server", live_server.url, "--token", token, *state]) == 0
    installed = tmp_path / "installed"
    installed.mkdir()
    config = json.loads((state_dir / "config.json").read_text())
    config["deploy"] = {
        "allow_shell": True,
        "shell_allow": ["true"],
        "install_command": ["cp", "{file}", str(installed)],
    }
    (state_dir / "config.json").write_text(json.dumps(config))
    assert cli.main(["run", "--once", "--no-deploy", *state]) == 0
    agent = Agent.objects.get()
    assert agent.ci_id is not None
    return {"state": state, "state_dir": state_dir, "installed": installed, "agent": agent}


def a_package_installed_here() -> str:
    from agents.client.collect.software import collect_software

    return collect_software()[0]["name"]


def test_the_agent_runs_its_steps_and_the_cmdb_follows(enrolled, make_user, client):
    agent, state = enrolled["agent"], enrolled["state"]
    ci = ConfigurationItem.objects.get(pk=agent.ci_id)
    manager = make_user(roles.RELEASE_MANAGER)
    release = make_release(
        steps=steps_for(a_package_installed_here(), "acme-tool"),
        wave_plan=ONE_WAVE,
        target_filter={"hostname": ci.hostname},
    )
    link_artifact(release)
    deployment = services.deployment_start(
        context=ctx(manager), release_id=release.pk, executor="agent"
    )

    assert cli.main(["deploy", *state]) == 0

    target = DeploymentTarget.objects.get(deployment=deployment)
    assert target.state == TargetState.SUCCEEDED, list(target.steps.values("name", "log"))
    assert list(target.steps.values_list("state", flat=True)) == [StepState.SUCCEEDED] * 3
    deployment.refresh_from_db()
    assert deployment.status == DeploymentStatus.SUCCEEDED
    # The artifact went through the install command, checked; the CMDB records the release's
    # software on the machine's CI.
    artifact = release.package.artifacts.get()
    assert [p.name for p in enrolled["installed"].iterdir()] == [artifact.sha256]
    assert InstalledSoftware.objects.filter(
        ci=ci, software__product__name="acme-tool", software__version="1.0"
    ).exists()
    # Nothing more is waiting: a second pass runs nothing.
    assert cli.main(["deploy", *state]) == 0
    assert DeploymentStep.objects.filter(deployment=deployment).count() == 3

    # A result for a step of this machine, posted by another agent: refused, nothing written.
    other = make_agent(name="other")
    Agent.objects.filter(pk=other.agent.pk).update(
        ci=ConfigurationItem.objects.create(name="other-box", ci_type=ci.ci_type)
    )
    step = target.steps.first()
    path = f"/api/v1/agents/deployments/{step.pk}/result/"
    body = {"attempt": step.attempt, "ok": False, "log": "forged"}
    assert other.post(client, body, path=path).status_code == 403
    # An old attempt, by the right agent: refused too.
    me = SignedAgent(agent=agent, key=load_private_key(enrolled["state_dir"] / "private_key.pem"))
    stale = {"attempt": step.attempt + 1, "ok": False, "log": "late"}
    assert me.post(client, stale, path=path).status_code == 409
    step.refresh_from_db()
    assert step.state == StepState.SUCCEEDED and "forged" not in step.log


def test_a_tampered_checksum_refuses_the_step_and_installs_nothing(enrolled, make_user):
    agent, state = enrolled["agent"], enrolled["state"]
    ci = ConfigurationItem.objects.get(pk=agent.ci_id)
    manager = make_user(roles.RELEASE_MANAGER)
    release = make_release(
        steps=steps_for(a_package_installed_here(), "evil-tool"),
        wave_plan=ONE_WAVE,
        target_filter={"hostname": ci.hostname},
    )
    artifact = link_artifact(release)
    # The library says one checksum, the stored bytes have another.
    SoftwareArtifact.objects.filter(pk=artifact.pk).update(sha256="0" * 64)
    deployment = services.deployment_start(
        context=ctx(manager), release_id=release.pk, executor="agent"
    )

    assert cli.main(["deploy", *state]) == cli.EXIT_ERROR

    target = DeploymentTarget.objects.get(deployment=deployment)
    assert target.state == TargetState.FAILED
    first = target.steps.get(order=1)
    assert first.state == StepState.FAILED and "REFUSED" in first.log
    assert target.steps.filter(order__gt=1, state=StepState.PENDING).count() == 2
    assert list(enrolled["installed"].iterdir()) == []
    assert not InstalledSoftware.objects.filter(ci=ci, software__product__name="evil-tool").exists()
