"""`reconciler runbook validate|test|execute|list|generate`: runbooks from the command line.

The first positional argument is the repository directory when it names an existing
folder, else it is the first runbook name and the directory is the current one. `execute`
refuses a runbook with problems, and one whose dangerous commands are allowed by an
override runs only after the user types its name on a terminal, or with `--yes`. It runs
on the workflow engine, like every run of the daemon, and prints a line per step event.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconciler.cli import output
from reconciler.clock import SystemClock
from reconciler.errors import UsageError
from reconciler.run import plans
from reconciler.run.engine import Engine
from reconciler.run.runlog import RunLog
from reconciler.run.steps import base
from reconciler.runbooks import catalog as runbooks
from reconciler.runbooks import generate as runbook_generate
from reconciler.runbooks import plan as runbook_plan
from reconciler.runbooks import report as runbook_report
from reconciler.runbooks import variables as runbook_vars
from reconciler.runbooks import vetting
from reconciler.runstate import RunRecord, RunStatus
from reconciler.source import git, tree
from reconciler.specs import flows
from reconciler.store.retention import RetentionSettings
from reconciler.store.sqlite import SqliteStore


def declare(parser: argparse.ArgumentParser) -> None:
    """The `runbook` verb's sub-commands."""
    sub = parser.add_subparsers(dest="runbook_verb", required=True, metavar="SUBCOMMAND")

    p = sub.add_parser(
        "validate", help="check runbooks: schema, cycles, timeouts, dangerous commands"
    )
    p.add_argument("targets", nargs="*", metavar="[DIR] [NAME ...]")
    output_format(p)
    p.set_defaults(handler=run_validate)

    p = sub.add_parser("test", help="dry run: render variables and print the plan, run nothing")
    p.add_argument("targets", nargs="+", metavar="[DIR] NAME")
    add_vars(p)
    output_format(p)
    p.set_defaults(handler=run_test)

    p = sub.add_parser("execute", help="run a runbook and write a report")
    p.add_argument("targets", nargs="+", metavar="[DIR] NAME")
    add_vars(p)
    p.add_argument(
        "--yes", action="store_true", help="confirm a runbook with allowed dangerous commands"
    )
    p.add_argument("--report-dir", help="where report.json and report.md go")
    p.add_argument("--data-dir", help="record the run in the daemon's store in this folder")
    p.set_defaults(handler=run_execute)

    p = sub.add_parser("list", help="list the runbooks of a repository")
    p.add_argument("dir", nargs="?", default=".", help="repository directory (default: .)")
    output_format(p)
    p.set_defaults(handler=run_list)

    p = sub.add_parser("generate", help="write a runbook for an incident from a template")
    p.add_argument("dir", nargs="?", default=".", help="repository directory (default: .)")
    p.add_argument(
        "--incident", required=True, help='JSON, e.g. {"type": "disk_full", "host": "db-1"}'
    )
    p.add_argument("--branch", help="commit the runbook onto this new branch instead of writing it")
    p.set_defaults(handler=run_generate)


def output_format(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")


def add_vars(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--var", action="append", default=[], metavar="NAME=VALUE", help="set a variable"
    )


def split_targets(targets: list[str], *, need_name: bool) -> tuple[Path, list[str]]:
    """(repository directory, runbook names) from the positional arguments."""
    if targets and Path(targets[0]).is_dir():
        root, names = Path(targets[0]), targets[1:]
    else:
        root, names = Path("."), targets
    if need_name and len(names) != 1:
        raise UsageError("name exactly one runbook: [DIR] NAME")
    return root, names


def open_catalog(root: Path) -> runbooks.Catalog:
    if not root.is_dir():
        raise UsageError(f"{root}: not a directory")
    return runbooks.open_catalog(tree.DirectoryTree(root))


def run_validate(args: argparse.Namespace) -> int:
    root, names = split_targets(args.targets, need_name=False)
    validation = runbooks.validate(open_catalog(root), names)
    if args.format == "json":
        print(json.dumps(validation_json(validation), indent=2))
    else:
        print(runbooks.render_validation(validation))
    return 0 if validation.ok else 1


def validation_json(validation: runbooks.Validation) -> dict[str, Any]:
    return {
        "valid": validation.ok,
        "runbooks": [c.entry.name for c in validation.checks],
        "problems": [output.problem_json(p) for p in validation.problems],
        "warnings": [output.problem_json(p) for p in validation.warnings],
    }


def prepared(args: argparse.Namespace) -> runbooks.Prepared | None:
    """The runbook named on the command line, planned; None (after printing why) if blocked."""
    root, names = split_targets(args.targets, need_name=True)
    catalog = open_catalog(root)
    entry = runbooks.find(catalog, names[0])
    ready = runbooks.prepare(catalog, entry.name, given=runbook_vars.parse_assignments(args.var))
    blocking = [p for p in catalog.problems if p.path == entry.document.path] + list(ready.problems)
    if blocking:
        for problem in blocking:
            print(problem)
        print(f"runbook {entry.name} has problems; fix them first", file=sys.stderr)
        return None
    return ready


def run_test(args: argparse.Namespace) -> int:
    ready = prepared(args)
    if ready is None:
        return 1
    if args.format == "json":
        print(json.dumps(ready.plan.as_json() | {"dangerous": ready.dangerous}, indent=2))
        return 0
    print(runbook_plan.render_text(ready.plan))
    if ready.dangerous:
        print(runbooks.override_note(ready.check))
    return 0


def run_execute(args: argparse.Namespace) -> int:
    ready = prepared(args)
    if ready is None:
        return 1
    confirmed_by = confirm(ready, yes=args.yes)
    if confirmed_by is None:
        return 1
    with tempfile.TemporaryDirectory(prefix="reconciler-runbook-") as scratch:
        store = SqliteStore(Path(scratch) / "run.db", retention=RetentionSettings())
        try:
            run = asyncio.run(execute(ready, store=store))
        finally:
            store.close()
    context = runbook_report.Context(
        run_id=run.id,
        who=getpass.getuser(),
        override_reason=ready.entry.model.spec.dangerous_commands.reason if confirmed_by else None,
        dangers=ready.dangers,
        confirmed_by=confirmed_by,
    )
    report = runbook_report.as_json(run, plan=ready.plan, context=context)
    started = run.started_at or datetime.now(UTC)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    directory = Path(args.report_dir or Path("runbook-reports") / f"{ready.plan.name}-{stamp}")
    json_path, md_path = runbook_report.write(report, directory=directory)
    if args.data_dir:
        record(run, data_dir=Path(args.data_dir))
    print(f"{run.status.value}: {ready.plan.name} in {report['durationSeconds']:.2f}s")
    print(f"report: {json_path} {md_path}")
    return 0 if run.status is RunStatus.SUCCEEDED else 1


async def execute(ready: runbooks.Prepared, *, store: SqliteStore) -> RunRecord:
    """Run the runbook on the workflow engine, one progress line per step event; the safety
    pack already ran over it (`prepare`) and any override was confirmed (`confirm`)."""
    found = vetting.findings(ready.dangers)

    def vetted(spec: flows.Workflow | flows.Runbook, values: Mapping[str, Any]) -> base.Vetting:
        return base.Vetting(findings=found, allowed=True, confirmed=True)

    engine = Engine(
        store=store,
        clock=SystemClock(),
        services=base.Services(vet=vetted),
        new_id=lambda: str(uuid.uuid4()),
        progress=lambda line: print(line, flush=True),
    )
    try:
        run_id = await engine.start_runbook(
            ready.entry.model, trigger="cli", variables=ready.plan.variables
        )
        return await engine.wait(run_id)
    finally:
        await engine.close()


def confirm(ready: runbooks.Prepared, *, yes: bool) -> str | None:
    """ "" when no confirmation is needed, how it was given, or None (refused)."""
    if not ready.dangerous:
        return ""
    name = ready.plan.name
    found = "; ".join(f"{d.step}: {d.message}" for d in ready.dangers)
    if yes:
        return "--yes"
    if not sys.stdin.isatty():
        print(
            f"refusing to execute {name}: it runs commands the safety policy flags ({found});"
            " confirm on a terminal or pass --yes",
            file=sys.stderr,
        )
        return None
    print(f"runbook {name} runs commands the safety policy flags: {found}")
    reason = ready.entry.model.spec.dangerous_commands.reason
    print(f"allowed because: {reason}")
    answer = input(f"type {name} to run it: ").strip()
    if answer != name:
        print(f"not confirmed; {name} was not run", file=sys.stderr)
        return None
    return "tty"


def record(run: RunRecord, *, data_dir: Path) -> None:
    """Keep the run in the daemon's store, as the daemon shows it (no bookkeeping records)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    store = SqliteStore(data_dir / "reconciler.db", retention=RetentionSettings())
    try:
        kept = replace(run, steps=tuple(s for s in run.steps if s.name != plans.META))
        RunLog(store).create(kept)
    finally:
        store.close()


def run_list(args: argparse.Namespace) -> int:
    catalog = open_catalog(Path(args.dir))
    rows = runbooks.listing(catalog)
    if args.format == "json":
        print(json.dumps({"runbooks": rows}, indent=2))
        return 0
    if not rows:
        print("no runbooks")
        return 0
    table = [
        [r["name"], r["type"], str(r["steps"]), ", ".join(r["variables"]) or "-", _danger(r)]
        for r in rows
    ]
    header = ["NAME", "TYPE", "STEPS", "VARIABLES", "DANGEROUS"]
    print(output.table(table, header=header))
    return 0


def _danger(row: dict[str, Any]) -> str:
    if not row["dangerous"]:
        return "no"
    return "yes (allowed)" if row["allowed"] else "yes"


def run_generate(args: argparse.Namespace) -> int:
    root = Path(args.dir)
    base = tree.DirectoryTree(root) if root.is_dir() else None
    if base is None:
        raise UsageError(f"{root}: not a directory")
    incident = runbook_generate.parse_incident(args.incident)
    made = runbook_generate.generate(incident, known=runbook_generate.templates(base))
    data = made.text.encode("utf-8")
    overlay = runbook_generate.OverlayTree(base, {made.path: data})
    validation = runbooks.validate(runbooks.open_catalog(overlay), [made.name])
    if not validation.ok:
        print(runbooks.render_validation(validation))
        print(f"the generated runbook {made.path} does not validate; nothing written")
        return 1
    if args.branch:
        message = f"Add runbook {made.name} for a {incident['type']} incident"
        sha = git.commit_file_on_branch(
            root, branch=args.branch, files={made.path: data}, message=message
        )
        print(f"committed {made.path} on branch {args.branch} ({sha[:12]})")
        return 0
    target = root / made.path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    print(f"wrote {made.path}; review it, then commit it")
    return 0
