"""The argument parser: one sub-command per verb, each bound to its handler.

Every verb is listed here with its one-line help, and the module that declares its
arguments and handler (`declare`, or `declare_<verb>` where a module serves several verbs)
is imported only when its arguments are needed: a run imports the one verb it runs, so
`reconciler validate` does not load the daemon, the store or the web stack that other verbs
use (`tests/cli/test_cli_imports.py`). `--help` lists every verb from this table alone.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from reconciler import __version__


@dataclass(frozen=True, kw_only=True)
class Verb:
    module: str  # under reconciler.cli
    help: str
    declare: str = "declare"


VERBS: dict[str, Verb] = {
    "init": Verb(module="init", help="create a new repository from the example"),
    "validate": Verb(
        module="check",
        help="check every spec and policy of a repository",
        declare="declare_validate",
    ),
    "eval": Verb(
        module="check",
        help="evaluate bound policies over the repository's resources",
        declare="declare_eval",
    ),
    "test": Verb(module="testcmd", help="run the test_ rules of *_test.rego files, like opa test"),
    "serve": Verb(module="serve", help="run the daemon with its HTTP API and metrics"),
    "sync": Verb(
        module="client", help="ask a running daemon to reconcile now", declare="declare_sync"
    ),
    "status": Verb(
        module="client",
        help="show a running daemon's sources and resources",
        declare="declare_status",
    ),
    "simulate": Verb(module="simulate", help="report what a change between two revisions would do"),
    "schema": Verb(module="schema", help="print the JSON Schema of a kind"),
    "runbook": Verb(
        module="runbook", help="validate, dry-run, execute, list and generate runbooks"
    ),
    "token": Verb(module="tokens", help="make and hash access tokens for daemon.yaml"),
    "workflow": Verb(module="workflow", help="run, list, steer and analyze workflows"),
    "decisions": Verb(module="decisions", help="list, show and replay the daemon's decisions"),
    "audit": Verb(module="audit", help="verify or export the daemon's tamper-evident audit log"),
    "optimize": Verb(module="optimize", help="run optimizations and inspect their proposals"),
}


def build_parser(declared: Collection[str] | None = None) -> argparse.ArgumentParser:
    """The parser, with the arguments of the `declared` verbs (default: all); the others
    are listed with their help but not loaded."""
    parser = argparse.ArgumentParser(
        prog="reconciler", description="Policy-as-code GitOps reconciler."
    )
    parser.add_argument("--version", action="version", version=f"reconciler {__version__}")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for name, verb in VERBS.items():
        sub = verbs.add_parser(name, help=verb.help)
        if declared is None or name in declared:
            module = importlib.import_module(f"reconciler.cli.{verb.module}")
            getattr(module, verb.declare)(sub)
    return parser


def chosen_verb(argv: Sequence[str]) -> str | None:
    """The verb `argv` names: its first word that is not an option (the top-level options,
    --help and --version, take no value)."""
    return next((arg for arg in argv if not arg.startswith("-")), None)
