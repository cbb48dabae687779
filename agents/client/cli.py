"""``itsm-agent``: command-line entry point (argparse)."""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import signal
import socket
import stat
import sys
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__, api, deploy, forward
from .collect import collect_report
from .collect._util import iso_utc
from .config import AgentConfig, StatePaths, default_state_dir, load_policy, load_status
from .keys import (
    KeyFileError,
    generate_private_key,
    load_private_key,
    public_key_b64,
    save_private_key,
)
from .rotation import rotate_key
from .runner import Agent, FlushResult, deliver, run_cycle, run_forever
from .signing import RequestSigner
from .spool import Spool
from .transport import ServerUnavailable, Transport

logger = logging.getLogger("agents.client")

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_QUEUED = 3
EXIT_AUTH = 4
TOKEN_ENV = "ITSM_AGENT_ENROLLMENT_TOKEN"


class CommandError(Exception):
    """A failure to report on stderr with an exit code, without a traceback."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


def _common_options() -> argparse.ArgumentParser:
    """Options accepted both before and after the command name."""
    common = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    common.add_argument(
        "--state-dir",
        help="state directory (default: $ITSM_AGENT_STATE_DIR, "
        "/var/lib/itsm-agent as root, else ~/.local/state/itsm-agent)",
    )
    common.add_argument("--server", help="server base URL (default: the one saved at enrolment)")
    tls = common.add_mutually_exclusive_group()
    tls.add_argument("--ca-bundle", help="CA certificate bundle to verify the server with")
    tls.add_argument("--insecure", action="store_true", help="do not verify TLS certificates")
    common.add_argument("-v", "--verbose", action="count", help="more logging (-vv: debug)")
    return common


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``itsm-agent``."""
    common = _common_options()
    parser = argparse.ArgumentParser(
        prog="itsm-agent",
        description="Inventory agent of the ITSM service desk and CMDB.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"itsm-agent {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    keygen = commands.add_parser("keygen", parents=[common], help="create the Ed25519 key pair")
    keygen.add_argument("--force", action="store_true", help="replace an existing, unenrolled key")

    enroll = commands.add_parser("enroll", parents=[common], help="enrol with a one-time token")
    enroll.add_argument(
        "--token", default=os.environ.get(TOKEN_ENV), help=f"enrolment token (or ${TOKEN_ENV})"
    )
    enroll.add_argument("--name", default=None, help="agent name (default: the hostname)")
    enroll.add_argument("--force", action="store_true", help="enrol again although enrolled")

    collect = commands.add_parser("collect", parents=[common], help="print the report as JSON")
    collect.add_argument("--all", action="store_true", help="ignore the policy: every section")

    run = commands.add_parser("run", parents=[common], help="collect and deliver reports")
    mode = run.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true", help="one cycle, then exit")
    mode.add_argument(
        "--interval",
        type=float,
        default=None,
        help="seconds between cycles (default: the policy's interval)",
    )
    run.add_argument(
        "--no-deploy",
        action="store_true",
        help="only inventory: do not fetch and run deployment steps",
    )
    run.add_argument(
        "--jitter",
        type=float,
        default=0.1,
        help="spread each wait by ± this fraction (default 0.1)",
    )

    send = commands.add_parser(
        "send",
        parents=[common],
        help="deliver inventory files made by a GLPI or FusionInventory/OCS agent",
    )
    send.add_argument("files", nargs="+", metavar="FILE", help="XML or JSON inventory file")

    dep = commands.add_parser(
        "deploy", parents=[common], help="fetch, run and report the deployment steps waiting"
    )
    dep.add_argument(
        "--dry-run", action="store_true", help="log what each step would do; change nothing"
    )

    commands.add_parser("rotate-key", parents=[common], help="replace the key pair")

    status = commands.add_parser("status", parents=[common], help="show the local state")
    status.add_argument("--check", action="store_true", help="also test a signed request")
    return parser


def _setup_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format="%(asctime)s itsm-agent %(levelname)s %(message)s",
    )


def _paths(args: argparse.Namespace) -> StatePaths:
    state_dir = getattr(args, "state_dir", None)
    return StatePaths(default_state_dir() if not state_dir else Path(state_dir).expanduser())


def _transport(args: argparse.Namespace, config: AgentConfig) -> Transport:
    server = getattr(args, "server", None) or config.server
    if not server:
        raise CommandError("no server URL: pass --server or enrol first")
    verify: bool | str = True
    if getattr(args, "insecure", False):
        logger.warning("TLS certificate verification is OFF (--insecure)")
        warnings.filterwarnings("ignore", message="Unverified HTTPS request")
        verify = False
    elif getattr(args, "ca_bundle", None) or config.ca_bundle:
        verify = getattr(args, "ca_bundle", None) or config.ca_bundle
    try:
        return Transport(server, verify=verify)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc


def _agent(args: argparse.Namespace) -> Agent:
    paths = _paths(args)
    config = AgentConfig.load(paths)
    if not config.key_id:
        raise CommandError(f"not enrolled (no key_id in {paths.config}): run `itsm-agent enroll`")
    key = load_private_key(paths.private_key)
    return Agent(
        paths=paths,
        config=config,
        transport=_transport(args, config),
        signer=RequestSigner(config.key_id, key),
        spool=Spool(paths.spool),
    )


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def cmd_keygen(args: argparse.Namespace) -> int:
    """Create the key pair (idempotent without --force); print the public key."""
    paths = _paths(args)
    if paths.private_key.exists() and not args.force:
        key = load_private_key(paths.private_key)
        logger.warning("a key already exists at %s (use --force to replace it)", paths.private_key)
    else:
        if paths.private_key.exists() and AgentConfig.load(paths).key_id:
            raise CommandError("this agent is enrolled: use `itsm-agent rotate-key` instead")
        paths.create()
        key = generate_private_key()
        save_private_key(key, paths.private_key)
    _print_json({"private_key": str(paths.private_key), "public_key": public_key_b64(key)})
    return EXIT_OK


def cmd_enroll(args: argparse.Namespace) -> int:
    """Enrol with a one-time token; save server, key_id and status."""
    paths = _paths(args)
    config = AgentConfig.load(paths)
    if config.key_id and not args.force:
        raise CommandError(
            f"already enrolled as key_id {config.key_id} (use --force to enrol again)"
        )
    if not args.token:
        raise CommandError(f"an enrolment token is needed: --token or ${TOKEN_ENV}")
    if not getattr(args, "server", None):
        raise CommandError("--server is needed to enrol")
    paths.create()
    if paths.private_key.exists():
        key = load_private_key(paths.private_key)
    else:
        key = generate_private_key()
        save_private_key(key, paths.private_key)
    name = args.name or socket.gethostname()
    transport = _transport(args, config)
    answer = api.enroll(transport, token=args.token, name=name, public_key_b64=public_key_b64(key))
    config.server = transport.server
    config.key_id = answer["key_id"]
    config.status = answer["status"]
    config.name = name
    config.ca_bundle = getattr(args, "ca_bundle", None) or config.ca_bundle
    config.enrolled_at = iso_utc(datetime.datetime.now(datetime.UTC))
    config.save(paths)
    _print_json({"key_id": config.key_id, "status": config.status, "server": config.server})
    if config.status == "pending":
        logger.warning("enrolled; an administrator must approve this agent before reports count")
    return EXIT_OK


def cmd_collect(args: argparse.Namespace) -> int:
    """Print the report this machine would send now."""
    policy = None if args.all else load_policy(_paths(args))
    _print_json(collect_report(policy))
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    """One cycle (--once) or a loop until SIGTERM/SIGINT."""
    agent = _agent(args)
    after = None if args.no_deploy else _deploy_quietly
    if args.once:
        code = _delivery_exit_code(run_cycle(agent))
        if after is not None:
            after(agent)
        return code
    if args.interval is not None and args.interval <= 0:
        raise CommandError("--interval must be positive")
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    run_forever(agent, interval=args.interval, jitter=args.jitter, stop=stop, after=after)
    return EXIT_OK


def _deploy_quietly(agent: Agent) -> None:
    """The deployment pass after an inventory cycle: its failures are logged, never fatal."""
    try:
        result = deploy.deploy_pass(agent)
    except Exception:  # keep the inventory agent alive whatever a deployment does
        logger.exception("deployment pass failed")
        return
    if result.steps or result.error:
        logger.info("deployment steps: %s", result.steps or result.error)


def cmd_deploy(args: argparse.Namespace) -> int:
    """One deployment pass: fetch, verify, run and report every step waiting for us."""
    agent = _agent(args)
    if args.dry_run:
        settings = dict(agent.config.extra.get("deploy") or {})
        agent.config.extra["deploy"] = {**settings, "dry_run": True}
    result = deploy.deploy_pass(agent)
    _print_json(
        {
            "succeeded": result.succeeded,
            "failed": result.failed,
            "skipped": result.skipped,
            "refused": result.refused,
            "not_recorded": result.not_recorded,
            "error": result.error,
            "steps": result.steps,
        }
    )
    if result.error and not result.steps:
        return EXIT_QUEUED
    return EXIT_OK if result.ok else EXIT_ERROR


def cmd_send(args: argparse.Namespace) -> int:
    """Queue each inventory file as a signed report, then deliver the queue."""
    agent = _agent(args)
    now = iso_utc(datetime.datetime.now(datetime.UTC))
    bodies = []
    for name in args.files:
        try:
            data = Path(name).read_bytes()
            bodies.append(api.encode_json(forward.envelope(data, collected_at=now)))
        except (OSError, forward.NotAnInventory) as exc:
            raise CommandError(f"{name}: {exc}") from None
    result = deliver(agent, bodies)
    code = _delivery_exit_code(result)
    return EXIT_ERROR if code == EXIT_OK and result.rejected else code


def _delivery_exit_code(result: FlushResult) -> int:
    """Log what a delivery achieved; 4 if the server refused our signature, 3 if reports wait."""
    logger.info(
        "sent %d, rejected %d, still queued %d", result.sent, result.rejected, result.remaining
    )
    if result.auth_failed:
        return EXIT_AUTH
    return EXIT_OK if result.remaining == 0 else EXIT_QUEUED


def cmd_rotate_key(args: argparse.Namespace) -> int:
    """Replace the key pair, keeping the old key until the server confirms."""
    paths = _paths(args)
    config = AgentConfig.load(paths)
    if not config.key_id:
        raise CommandError("not enrolled: nothing to rotate")
    answer = rotate_key(paths, config, _transport(args, config))
    _print_json(
        {
            "key_id": config.key_id,
            "status": config.status,
            "public_key": public_key_b64(load_private_key(paths.private_key)),
            **answer,
        }
    )
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    """Print the local state (and, with --check, whether the server accepts our signature)."""
    paths = _paths(args)
    config = AgentConfig.load(paths)
    key_info: dict[str, Any] = {
        "path": str(paths.private_key),
        "exists": paths.private_key.exists(),
    }
    if key_info["exists"]:
        key_info["mode"] = oct(stat.S_IMODE(paths.private_key.stat().st_mode))
        try:
            key_info["public_key"] = public_key_b64(load_private_key(paths.private_key))
        except KeyFileError as exc:
            key_info["error"] = str(exc)
    spool = Spool(paths.spool)
    queued = spool.pending()
    report: dict[str, Any] = {
        "version": __version__,
        "state_dir": str(paths.root),
        "server": config.server,
        "name": config.name,
        "key_id": config.key_id,
        "status": config.status,
        "enrolled_at": config.enrolled_at,
        "key": key_info,
        "pending_rotation": paths.pending_key.exists(),
        "spool": {"queued": len(queued), "oldest": queued[0].name if queued else None},
        "policy": load_policy(paths),
        "last": load_status(paths),
    }
    code = EXIT_OK
    if args.check:
        try:
            agent = _agent(args)
            api.fetch_policy(agent.transport, agent.signer, retry=False)
            report["check"] = "ok: the server accepts this agent's signature"
        except api.AuthError as exc:
            report["check"], code = f"refused: {exc}", EXIT_AUTH
        except (api.AgentAPIError, ServerUnavailable) as exc:
            report["check"], code = f"failed: {exc}", EXIT_QUEUED
    _print_json(report)
    return code


COMMANDS = {
    "keygen": cmd_keygen,
    "enroll": cmd_enroll,
    "collect": cmd_collect,
    "run": cmd_run,
    "send": cmd_send,
    "deploy": cmd_deploy,
    "rotate-key": cmd_rotate_key,
    "status": cmd_status,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``itsm-agent`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    _setup_logging(getattr(args, "verbose", 0) or 0)
    try:
        return COMMANDS[args.command](args)
    except CommandError as exc:
        logger.error("%s", exc)
        return exc.code
    except KeyFileError as exc:
        logger.error("%s", exc)
        return EXIT_ERROR
    except api.AuthError as exc:
        logger.error("%s", exc)
        return EXIT_AUTH
    except (api.AgentAPIError, ServerUnavailable) as exc:
        logger.error("%s", exc)
        return EXIT_ERROR
    except OSError as exc:
        logger.error("%s", exc)
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
