"""`reconciler serve`: run the daemon with its HTTP API until SIGTERM or ^C (exit 0).

Either a settings file (`--config`), or a quick start on one local repository: `serve DIR`
follows DIR's current branch, with the data directory outside the repository. Options on
the command line override the file: `--host`, `--port`, `--data-dir`; `--interval` (every
source), `--audit-interval` and `--no-self-heal` also override each repository's
`reconciler.yaml`. `--log-format json` writes the log as JSON lines. Docs: docs/daemon.md.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import socket
from pathlib import Path

from reconciler.api import auth, tls
from reconciler.cli import logformat
from reconciler.errors import UsageError
from reconciler.reconcile import settings as daemon_settings
from reconciler.source import git
from reconciler.specs import types

log = logging.getLogger("reconciler")


def declare(p: argparse.ArgumentParser) -> None:
    add_arguments(p)
    p.set_defaults(handler=run)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", nargs="?", help="a local repository to follow (instead of --config)")
    p.add_argument("--config", help="daemon settings file (YAML); see docs/daemon.md")
    p.add_argument("--ref", help="branch or tag to follow (default: DIR's current branch)")
    p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=_port, help="port to listen on (default 8080; 0 picks one)")
    p.add_argument("--data-dir", help="where the state database lives")
    p.add_argument("--tls-cert", metavar="FILE", help="serve HTTPS with this PEM certificate")
    p.add_argument("--tls-key", metavar="FILE", help="the private key of --tls-cert (PEM)")
    p.add_argument(
        "--interval",
        type=_duration,
        help='poll and drift-check interval of every source, e.g. "30s" (default: the '
        "settings file, else the repository's, else 5m)",
    )
    p.add_argument(
        "--audit-interval",
        type=_duration,
        help="policy audit interval of every source (default: the settings file, else the "
        "repository's, else 10m)",
    )
    p.add_argument("--no-self-heal", action="store_true", help="report drift, do not correct it")
    p.add_argument(
        "--file-root",
        action="append",
        default=[],
        metavar="DIR",
        help="an absolute directory File resources may live in (repeatable; adds to"
        " providers.file.roots; default: only relative paths, under <data-dir>/files)",
    )
    p.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="text lines (default) or JSON lines, one object per record",
    )


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)")
    return int(text)


def _duration(text: str) -> str:
    if not types.is_duration(text) or types.seconds(text) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} {types.DURATION_MESSAGE}")
    return text


def flags_from(args: argparse.Namespace) -> daemon_settings.Flags:
    """The settings the command line gives, which win over the file and the repository."""
    return daemon_settings.Flags(
        interval=args.interval,
        audit_interval=args.audit_interval,
        self_heal=False if args.no_self_heal else None,
    )


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
    if bool(args.tls_cert) != bool(args.tls_key):
        raise UsageError("--tls-cert and --tls-key go together")
    if args.tls_cert:
        files = {"certFile": args.tls_cert, "keyFile": args.tls_key}
        http = http.model_copy(update={"tls": daemon_settings.TlsSettings.model_validate(files)})
    update: dict[str, object] = {"http": http}
    if args.file_root:
        roots = [*base.providers.file.roots, *(Path(r).resolve() for r in args.file_root)]
        file = base.providers.file.model_copy(update={"roots": roots})
        update["providers"] = base.providers.model_copy(update={"file": file})
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
    logformat.configure(json_lines=args.log_format == "json")
    settings = settings_from(args)
    # Every refusal comes before the daemon exists: it creates the data directory.
    auth.check_exposure(settings)
    if settings.http.tls is not None:
        tls.check(settings.http.tls)
    _check_port(settings.http.host, settings.http.port)
    # Imported here so that the other verbs never load the web stack (starlette, uvicorn, ...).
    from reconciler.cli import serving

    asyncio.run(serving.serve(settings, flags=flags_from(args)))
    return 0


def _check_port(host: str, port: int) -> None:
    """Fail with a plain message, before anything starts, when the address is taken."""
    if port == 0:
        return
    try:
        socket.create_server((host, port)).close()
    except OSError as exc:
        reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
        raise UsageError(
            f"cannot listen on {host}:{port}: {reason}; choose another port with --port "
            "(--port 0 picks a free one)"
        ) from None
