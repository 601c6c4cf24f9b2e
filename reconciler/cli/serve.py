"""`reconciler serve`: run the daemon with its HTTP API until SIGTERM or ^C (exit 0).

Either a settings file (`--config`), or a quick start on one local repository: `serve DIR`
follows DIR's current branch, with the data directory outside the repository. Options on
the command line override the file: `--host`, `--port`, `--data-dir`, `--interval` (every
source) and `--no-self-heal`. Docs: docs/daemon.md.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import socket
from pathlib import Path

from reconciler.errors import UsageError
from reconciler.reconcile import settings as daemon_settings
from reconciler.source import git
from reconciler.specs import types

log = logging.getLogger("reconciler")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", nargs="?", help="a local repository to follow (instead of --config)")
    p.add_argument("--config", help="daemon settings file (YAML); see docs/daemon.md")
    p.add_argument("--ref", help="branch or tag to follow (default: DIR's current branch)")
    p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=_port, help="port to listen on (default 8080; 0 picks one)")
    p.add_argument("--data-dir", help="where the state database lives")
    p.add_argument(
        "--interval", type=_duration, help='poll and drift-check interval, e.g. "30s" (default 1m)'
    )
    p.add_argument("--no-self-heal", action="store_true", help="report drift, do not correct it")


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)")
    return int(text)


def _duration(text: str) -> str:
    if not types.is_duration(text):
        raise argparse.ArgumentTypeError(f"{text!r} {types.DURATION_MESSAGE}")
    return text


def settings_from(args: argparse.Namespace) -> daemon_settings.DaemonSettings:
    """The settings file or the quick start, with the command line's overrides applied."""
    if args.config and args.dir:
        raise UsageError("give a repository directory or --config FILE, not both")
    if args.config:
        if args.ref:
            raise UsageError(
                "--ref goes with a repository directory; in a settings file, set sources[].ref"
            )
        base = daemon_settings.load(Path(args.config))
    elif args.dir:
        base = quick_start(Path(args.dir), ref=args.ref)
    else:
        raise UsageError("give a repository directory or --config FILE")
    http = base.http.model_copy(
        update={k: v for k, v in {"host": args.host, "port": args.port}.items() if v is not None}
    )
    reconcile = base.reconcile.model_copy(update={"self_heal": False} if args.no_self_heal else {})
    update: dict[str, object] = {"http": http, "reconcile": reconcile}
    if args.interval:
        update["sources"] = [s.model_copy(update={"interval": args.interval}) for s in base.sources]
    if args.data_dir:
        update["data_dir"] = Path(args.data_dir)
    return base.model_copy(update=update)


def quick_start(repo: Path, *, ref: str | None) -> daemon_settings.DaemonSettings:
    """One local source: DIR at `ref` (default: its current branch), data outside it."""
    repo = repo.resolve()
    if not repo.is_dir():
        raise UsageError(f"{repo}: no such directory")
    name = re.sub(r"[^a-z0-9-]+", "-", repo.name.lower()).strip("-") or "repo"
    branch = ref or git.current_branch(repo) or "main"
    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    source = {"name": name, "path": str(repo), "ref": branch}
    return daemon_settings.DaemonSettings.model_validate(
        {"dataDir": str(state / "reconciler" / name), "sources": [source]}
    )


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    settings = settings_from(args)
    _check_port(settings.http.host, settings.http.port)
    # Imported here so that the other verbs never load the web stack (starlette, uvicorn, ...).
    from reconciler.cli import serving

    asyncio.run(serving.serve(settings))
    return 0


def _check_port(host: str, port: int) -> None:
    """Fail with a plain message, before anything starts, when the address is taken."""
    if port == 0:
        return
    try:
        socket.create_server((host, port)).close()
    except OSError as exc:
        reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
        raise UsageError(f"cannot listen on {host}:{port}: {reason}") from None
