"""The step modules the agent runs for a deployment: small, and safe by default.

Settings come from the ``deploy`` object of ``config.json`` (see :class:`DeploySettings`):

- ``shell`` runs a command (split with shlex, never through a shell) only when
  ``allow_shell`` is true, and, when ``shell_allow`` lists program names, only those programs;
- ``install_package`` / ``remove_package`` run the OS package manager through a command
  template (``install_command`` / ``remove_command``: a list of arguments where ``{file}``,
  ``{name}`` and ``{version}`` are replaced); none configured: the step fails;
- ``check_software`` checks the installed software (dpkg, rpm, Python distributions);
- ``copy_file`` copies the step's artifact to a path under ``copy_root``;
- ``set_attributes`` changes nothing on the machine (the server records the attributes).

``dry_run`` logs what each module would do and succeeds without touching the machine.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .collect.software import collect_software

COMMAND_TIMEOUT = 900
LOG_LIMIT = 20_000


@dataclass
class DeploySettings:
    """The agent's deployment settings (``config.json`` → ``deploy``)."""

    enabled: bool = True
    dry_run: bool = False
    allow_shell: bool = False
    shell_allow: list[str] = field(default_factory=list)
    install_command: list[str] = field(default_factory=list)
    remove_command: list[str] = field(default_factory=list)
    copy_root: str = ""
    timeout: int = COMMAND_TIMEOUT

    @classmethod
    def from_config(cls, raw: Any) -> DeploySettings:
        """Read the ``deploy`` object; anything malformed keeps the safe default."""
        settings = cls()
        if not isinstance(raw, dict):
            return settings
        for name in ("enabled", "dry_run", "allow_shell"):
            if isinstance(raw.get(name), bool):
                setattr(settings, name, raw[name])
        for name in ("shell_allow", "install_command", "remove_command"):
            value = raw.get(name)
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                setattr(settings, name, list(value))
        if isinstance(raw.get("copy_root"), str):
            settings.copy_root = raw["copy_root"]
        if isinstance(raw.get("timeout"), int) and raw["timeout"] > 0:
            settings.timeout = raw["timeout"]
        return settings


@dataclass
class Outcome:
    """What a module did: ok, the outcome (``succeeded``, ``failed``, ``skipped``), a log."""

    ok: bool
    log: str
    outcome: str = ""

    def __post_init__(self) -> None:
        if not self.outcome:
            self.outcome = "succeeded" if self.ok else "failed"


@dataclass
class StepContext:
    """One step to run: its definition from the server and the verified artifact files."""

    step: dict[str, Any]
    settings: DeploySettings
    files: dict[int, Path] = field(default_factory=dict)

    @property
    def params(self) -> dict[str, Any]:
        params = self.step.get("params")
        return params if isinstance(params, dict) else {}

    def artifact_file(self) -> Path | None:
        artifact = self.step.get("artifact") or {}
        if isinstance(artifact, dict) and artifact.get("id") in self.files:
            return self.files[artifact["id"]]
        if len(self.files) == 1:
            return next(iter(self.files.values()))
        return None


def installed(name: str, version: str = "") -> bool:
    """Whether software `name` (at `version`, if given) is installed on this machine."""
    wanted = name.strip().lower()
    for item in collect_software():
        if str(item.get("name", "")).strip().lower() != wanted:
            continue
        if not version or str(item.get("version", "")) == str(version):
            return True
    return False


def _run(argv: list[str], settings: DeploySettings) -> Outcome:
    if settings.dry_run:
        return Outcome(True, f"[dry run] would run: {shlex.join(argv)}")
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=settings.timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Outcome(False, f"$ {shlex.join(argv)}\n{type(exc).__name__}: {exc}")
    output = (done.stdout + done.stderr)[-LOG_LIMIT:]
    return Outcome(done.returncode == 0, f"$ {shlex.join(argv)}\n{output}exit {done.returncode}")


def _template(template: list[str], ctx: StepContext) -> list[str]:
    file = ctx.artifact_file()
    values = {
        "file": str(file) if file else "",
        "name": str(ctx.params.get("name", "")),
        "version": str(ctx.params.get("version", "")),
    }
    return [part.format(**values) for part in template]


def module_shell(ctx: StepContext) -> Outcome:
    """Run ``params.cmd`` (allowed only with ``allow_shell``; programs from ``shell_allow``)."""
    cmd = ctx.params.get("cmd")
    if not isinstance(cmd, str) or not cmd.strip():
        return Outcome(False, "shell: params.cmd is missing")
    if not ctx.settings.allow_shell:
        return Outcome(False, "shell: refused, allow_shell is off in this agent's config")
    argv = shlex.split(cmd)
    if ctx.settings.shell_allow and argv[0] not in ctx.settings.shell_allow:
        return Outcome(False, f"shell: refused, {argv[0]!r} is not in shell_allow")
    return _run(argv, ctx.settings)


def module_check_software(ctx: StepContext) -> Outcome:
    """Succeed when ``params.name`` (at ``params.version``) is installed."""
    name, version = str(ctx.params.get("name", "")), str(ctx.params.get("version", "") or "")
    if not name:
        return Outcome(False, "check_software: params.name is missing")
    found = installed(name, version)
    return Outcome(
        found, f"check_software: {name} {version} {'is' if found else 'is NOT'} installed"
    )


def _package_command(ctx: StepContext, template: list[str], what: str) -> Outcome:
    if not template:
        if ctx.settings.dry_run:
            return Outcome(True, f"[dry run] would {what} {ctx.params.get('name', '')}")
        return Outcome(False, f"{what}: no {what}_command configured on this agent")
    if "{file}" in " ".join(template) and ctx.artifact_file() is None:
        return Outcome(False, f"{what}: the step has no verified artifact file")
    return _run(_template(template, ctx), ctx.settings)


def module_install_package(ctx: StepContext) -> Outcome:
    """Install through the ``install_command`` template."""
    return _package_command(ctx, ctx.settings.install_command, "install")


def module_remove_package(ctx: StepContext) -> Outcome:
    """Remove through the ``remove_command`` template."""
    return _package_command(ctx, ctx.settings.remove_command, "remove")


def module_copy_file(ctx: StepContext) -> Outcome:
    """Copy the step's artifact to ``params.dest``, which must lie under ``copy_root``."""
    source, dest = ctx.artifact_file(), str(ctx.params.get("dest", ""))
    root = ctx.settings.copy_root
    if source is None or not dest or not root:
        return Outcome(False, "copy_file: needs an artifact, params.dest and copy_root")
    target = (Path(root) / dest.lstrip("/")).resolve()
    if not target.is_relative_to(Path(root).resolve()):
        return Outcome(False, f"copy_file: {dest} is outside copy_root")
    if ctx.settings.dry_run:
        return Outcome(True, f"[dry run] would copy {source.name} to {target}")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return Outcome(True, f"copied {source.name} to {target}")


def module_set_attributes(ctx: StepContext) -> Outcome:
    """Nothing to do on the machine: the server records the attributes in the CMDB."""
    return Outcome(True, "set_attributes: recorded by the server")


MODULES: dict[str, Callable[[StepContext], Outcome]] = {
    "shell": module_shell,
    "check_software": module_check_software,
    "install_package": module_install_package,
    "remove_package": module_remove_package,
    "copy_file": module_copy_file,
    "set_attributes": module_set_attributes,
}


def _installed_spec(spec: Any) -> tuple[str, str] | None:
    if isinstance(spec, dict) and isinstance(spec.get("name"), str):
        return spec["name"], str(spec.get("version") or "")
    return None


def run_step(ctx: StepContext) -> Outcome:
    """Run one step: its condition, its module, its success test."""
    unless = _installed_spec((ctx.step.get("condition") or {}).get("unless_installed"))
    if unless and installed(*unless):
        return Outcome(True, f"{unless[0]} {unless[1]} is already installed: skipped", "skipped")
    module = MODULES.get(str(ctx.step.get("module", "")))
    if module is None:
        return Outcome(False, f"unknown module {ctx.step.get('module')!r}: refused")
    outcome = module(ctx)
    test = _installed_spec((ctx.step.get("success_test") or {}).get("installed"))
    if outcome.ok and test and not ctx.settings.dry_run and not installed(*test):
        return Outcome(False, f"{outcome.log}\nsuccess test: {test[0]} {test[1]} is not installed")
    return outcome
