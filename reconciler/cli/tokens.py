"""`reconciler token hash|new`: the SHA-256 an access token is configured by
(`auth.tokens[].sha256` in daemon.yaml), so tokens themselves never sit in settings files.
`new` also says, on stderr, the daemon.yaml entry to add and how the role is chosen."""

from __future__ import annotations

import argparse
import hashlib
import secrets
import sys

from reconciler.reconcile.settings import Role

ROLES = tuple(r.value for r in Role)


def declare(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    h = actions.add_parser("hash", help="print the sha256 of a token (read from stdin)")
    h.add_argument("token", nargs="?", help="the token (default: the first line of stdin)")
    h.set_defaults(handler=run_hash)
    n = actions.add_parser("new", help="print a new random token and its sha256")
    n.add_argument("--name", default="ci", help="the token's name in daemon.yaml (default: ci)")
    n.add_argument(
        "--role", choices=ROLES, default="viewer", help="the role to show (default: viewer)"
    )
    n.set_defaults(handler=run_new)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def run_hash(args: argparse.Namespace) -> int:
    token = args.token if args.token is not None else sys.stdin.readline().rstrip("\r\n")
    if not token:
        print("reconciler token hash: give a token, or one on stdin", file=sys.stderr)
        return 1
    print(digest(token))
    return 0


def run_new(args: argparse.Namespace) -> int:
    token = secrets.token_urlsafe(32)
    print(f"token:  {token}\nsha256: {digest(token)}")
    print(next_steps(args.name, digest(token), role=args.role), file=sys.stderr)
    return 0


def next_steps(name: str, sha256: str, *, role: str) -> str:
    """Where the hash goes and how the role is chosen (to stderr: stdout stays the two
    lines scripts read)."""
    return (
        "\nAdd the sha256 (never the token) to daemon.yaml, restart the daemon, and give the "
        "token to its user (`--token` or $RECONCILER_TOKEN):\n\n"
        "auth:\n"
        "  tokens:\n"
        f"    - name: {name}\n"
        f"      sha256: {sha256}\n"
        f"      role: {role}  # viewer (read) < operator (sync, suspend, approve) < admin\n"
        "\nChoose the role with --role; docs/daemon.md has the auth settings."
    )
