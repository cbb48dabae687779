"""The agent ships as its own small package: `agents/client/pyproject.toml` depends on neither
Django nor the server's requirements, and the client (deploy included) imports without them."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

CLIENT = Path(__file__).resolve().parents[2] / "agents" / "client"
ALLOWED = {"cryptography", "http-message-signatures", "psutil", "requests"}


def test_the_agent_package_depends_only_on_what_the_client_imports():
    project = tomllib.loads((CLIENT / "pyproject.toml").read_text())["project"]
    assert project["name"] == "itsm-agent"
    names = {
        dep.split(">")[0].split("=")[0].split("<")[0].strip() for dep in project["dependencies"]
    }
    assert names == ALLOWED
    assert project["scripts"]["itsm-agent"] == "agents.client.cli:main"
    for unit in ("itsm-agent.service", "itsm-agent.timer"):
        assert (CLIENT / "systemd" / unit).exists()
    assert "itsm-agent run" in (CLIENT / "systemd" / "itsm-agent.service").read_text()


def test_the_client_imports_without_django_or_the_server():
    code = (
        "import sys\n"
        "for name in ('django', 'rest_framework', 'celery', 'itsm', 'cmdb', 'releases'):\n"
        "    sys.modules[name] = None\n"
        "from agents.client import cli, deploy, modules\n"
        "assert 'deploy' in cli.COMMANDS\n"
        "cli.build_parser().parse_args(['deploy', '--dry-run'])\n"
    )
    root = str(CLIENT.parents[1])
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
