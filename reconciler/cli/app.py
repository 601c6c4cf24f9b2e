"""The argument parser: one sub-command per verb, each bound to its handler."""

from __future__ import annotations

import argparse

from reconciler import __version__
from reconciler.cli import (
    audit,
    check,
    client,
    decisions,
    init,
    optimize,
    runbook,
    schema,
    serve,
    simulate,
    testcmd,
    tokens,
    workflow,
)


def add_source_options(parser: argparse.ArgumentParser) -> None:
    """Where the repository comes from: a directory (default), or a Git URL/path and revision."""
    parser.add_argument("dir", nargs="?", help="repository directory (default: .)")
    parser.add_argument("--repo", help="Git URL or path to read a commit from instead of DIR")
    parser.add_argument(
        "--rev", help="branch, tag or commit with --repo (default: HEAD of a path, main of a URL)"
    )
    parser.add_argument("--subpath", default="", help="folder inside the repository")
    parser.add_argument(
        "--cache-dir", help="where --repo URLs are cloned (default: ~/.cache/reconciler/repos)"
    )


def add_format(parser: argparse.ArgumentParser, *choices: str) -> None:
    parser.add_argument("--format", choices=choices, default=choices[0], help="output format")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reconciler", description="Policy-as-code GitOps reconciler."
    )
    parser.add_argument("--version", action="version", version=f"reconciler {__version__}")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    p = verbs.add_parser("init", help="create a new repository from the example")
    p.add_argument("dir", help="directory to create (must not exist or be empty)")
    p.set_defaults(handler=init.run)

    p = verbs.add_parser("validate", help="check every spec and policy of a repository")
    add_source_options(p)
    add_format(p, "text", "json")
    p.set_defaults(handler=check.run_validate)

    p = verbs.add_parser("eval", help="evaluate bound policies over the repository's resources")
    add_source_options(p)
    add_format(p, "table", "json")
    p.add_argument(
        "--fail-on-warn",
        action="store_true",
        help="exit 1 also when a decision is warned (as conftest test --fail-on-warn)",
    )
    p.set_defaults(handler=check.run_eval)

    p = verbs.add_parser("test", help="run the test_ rules of *_test.rego files, like opa test")
    add_source_options(p)
    add_format(p, "text", "json")
    p.add_argument("-v", "--verbose", action="store_true", help="list every test")
    p.add_argument("--coverage", action="store_true", help="report line coverage")
    p.set_defaults(handler=testcmd.run)

    p = verbs.add_parser("serve", help="run the daemon with its HTTP API and metrics")
    serve.add_arguments(p)
    p.set_defaults(handler=serve.run)

    p = verbs.add_parser("sync", help="ask a running daemon to reconcile now")
    client.add_arguments(p)
    p.add_argument("--source", help="only this source")
    p.set_defaults(handler=client.run_sync)

    p = verbs.add_parser("status", help="show a running daemon's sources and resources")
    client.add_arguments(p)
    add_format(p, "table", "json")
    p.set_defaults(handler=client.run_status)

    simulate.register(verbs)

    p = verbs.add_parser("schema", help="print the JSON Schema of a kind")
    p.add_argument("kind", nargs="?", help="kind name; omit to list kinds")
    p.set_defaults(handler=schema.run)
    runbook.register(verbs)
    tokens.register(verbs)
    workflow.register(verbs)
    decisions.register(verbs, add_format=add_format, add_source_options=add_source_options)
    audit.register(verbs, add_format=add_format)
    optimize.register(verbs, add_format=add_format)
    return parser
