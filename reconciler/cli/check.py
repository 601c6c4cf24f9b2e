"""`reconciler validate` and `reconciler eval`: load a revision, compile its policies, and
(for eval) list the decisions of every bound policy over every resource. Both also report
the conflicts the revision's bindings and modules already hold (the ones `simulate` names
when a change introduces them); a conflict is reported but does not change the exit code."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from dataclasses import dataclass

from reconciler import errors
from reconciler.cli import options, output, repo
from reconciler.clock import SystemClock
from reconciler.errors import Problem
from reconciler.policy import bundle as bundles
from reconciler.policy import conflicts
from reconciler.policy import parallel as parallel_eval
from reconciler.policy.decisions import Action
from reconciler.specs import loader, parallel
from reconciler.specs.snapshot import Snapshot


@dataclass(frozen=True, kw_only=True)
class Checked:
    snapshot: Snapshot
    bundle: bundles.Bundle
    problems: tuple[Problem, ...]
    # Bindings (or modules) of the revision that contradict each other; reported, not fatal.
    conflicts: tuple[conflicts.Conflict, ...]


def declare_validate(p: argparse.ArgumentParser) -> None:
    options.add_source_options(p)
    options.add_format(p, "text", "json")
    p.set_defaults(handler=run_validate)


def declare_eval(p: argparse.ArgumentParser) -> None:
    options.add_source_options(p)
    options.add_format(p, "table", "json")
    p.add_argument(
        "--fail-on-warn",
        action="store_true",
        help="exit 1 also when a decision is warned (as conftest test --fail-on-warn)",
    )
    p.set_defaults(handler=run_eval)


def load_and_compile(args: argparse.Namespace) -> Checked:
    # The CLI is single-threaded, so a large tree may be parsed on every core.
    workers = os.cpu_count() or 1
    snapshot = loader.load(
        repo.open_tree(args),
        parse_many=lambda tree, jobs, limits: parallel.parse_all(
            tree, jobs, limits=limits, workers=workers
        ),
    )
    bundle = bundles.compile(snapshot)
    problems = tuple(sorted({*snapshot.problems, *bundle.problems}, key=errors.sort_key))
    found = tuple(conflicts.find(bundle, resources=snapshot.resources))
    return Checked(snapshot=snapshot, bundle=bundle, problems=problems, conflicts=found)


def run_validate(args: argparse.Namespace) -> int:
    checked = load_and_compile(args)
    if args.format == "json":
        report = output.validation_json(checked.snapshot, checked.problems)
        report["conflicts"] = [output.conflict_json(c) for c in checked.conflicts]
        print(json.dumps(report, indent=2))
    else:
        print(output.validation_text(checked.snapshot, checked.problems, checked.conflicts))
    return 1 if checked.problems else 0


def run_eval(args: argparse.Namespace) -> int:
    checked = load_and_compile(args)
    if checked.problems:
        # Nothing was evaluated: stdout stays empty so a JSON reader never sees half a report.
        print(output.validation_text(checked.snapshot, checked.problems), file=sys.stderr)
        print("not evaluated: fix the problems above first", file=sys.stderr)
        return 1
    revision = checked.snapshot.revision.sha if checked.snapshot.revision else None
    # Single-threaded here too, so a large revision is evaluated on every core.
    decisions = parallel_eval.evaluate_parallel(
        checked.snapshot,
        checked.bundle,
        clock=SystemClock(),
        workers=os.cpu_count() or 1,
        revision=revision,
    )
    if args.format == "json":
        report = output.decisions_json(checked.snapshot, decisions)
        report["conflicts"] = [output.conflict_json(c) for c in checked.conflicts]
        print(json.dumps(report, indent=2))
    else:
        width = shutil.get_terminal_size((100, 24)).columns
        print(output.decisions_table(decisions, width=width))
        for line in output.conflict_lines(checked.conflicts):
            print(line)
    failing = {Action.BLOCKED, Action.WARNED} if args.fail_on_warn else {Action.BLOCKED}
    return 1 if any(d.action_taken in failing for d in decisions) else 0
