"""`reconciler workflow run|list|status|cancel|pause|resume|approve|runs|analyze`: workflows
from the command line.

Every verb but `runs` and `analyze` talks to the running daemon over its HTTP API (`--url`,
and `--token` or `$RECONCILER_TOKEN` when the daemon has tokens). `runs` reads the runs
recorded in the daemon's store (`--data-dir`, or `--store-url` for the store several
replicas share: the runs of every replica), with the steps waiting for an answer.
`analyze` reads the repository and, with a store, the durations recorded in it, and shows
the critical path and the steps that can run side by side.
"""

from __future__ import annotations

import argparse
import json
import time
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconciler.api import views
from reconciler.cli import client, output, stores
from reconciler.errors import UsageError
from reconciler.reconcile import runclaims
from reconciler.run import asks, history
from reconciler.runbooks import variables as runbook_vars
from reconciler.runstate import RunKind, RunRecord, RunStatus
from reconciler.source import tree
from reconciler.specs import flows, loader

FINISHED = ("succeeded", "failed", "cancelled")
_WHOLE = 32  # characters of a whole run id (a uuid has 36); shorter ones are prefixes
_DEFAULT = 1.0  # seconds estimated for a step with no history, wait or timeout
_SEARCHED = 1000  # the newest runs a short id is looked up in (the API's largest page)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # orders a run never started last
STEERING = {
    "cancel": "stop it for good",
    "pause": "launch no further steps",
    "resume": "go on after a pause",
}
"""The verbs that steer a run, with what each does (`POST /api/v1/runs/{id}/<verb>`)."""
ENGINE_KINDS = (RunKind.WORKFLOW, RunKind.RUNBOOK, RunKind.REMEDIATION)
"""The run kinds the workflow engine runs (queued and claimed across replicas)."""


def declare(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="workflow_verb", required=True, metavar="SUBCOMMAND")

    p = sub.add_parser("run", help="start a workflow (it needs a manual trigger)")
    client.add_arguments(p)
    p.add_argument("name")
    p.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a variable (JSON values such as 3 or true keep their type)",
    )
    p.add_argument("--wait", action="store_true", help="wait for the run to finish")
    p.set_defaults(handler=run_start)

    p = sub.add_parser("list", help="list the daemon's workflows, next and last runs")
    client.add_arguments(p)
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(handler=run_list)

    p = sub.add_parser("status", help="show one run, or the recent runs and open approvals")
    client.add_arguments(p)
    p.add_argument("run_id", nargs="?")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(handler=run_status)

    for action, said in STEERING.items():
        p = sub.add_parser(action, help=f"{action} a run ({said})")
        client.add_arguments(p)
        p.add_argument("run_id")
        p.set_defaults(handler=run_steer, action=action)

    p = sub.add_parser("approve", help="answer a step waiting for approval")
    client.add_arguments(p)
    p.add_argument("run_id")
    p.add_argument("step")
    p.add_argument("--reject", action="store_true", help="reject instead of approving")
    p.add_argument("--comment", default="")
    p.add_argument("--approver", help="who answers (the token's name wins when there is one)")
    p.set_defaults(handler=run_approve)

    p = sub.add_parser("runs", help="the runs recorded in the daemon's store, newest first")
    stores.add_store_options(p)
    p.add_argument(
        "--kind",
        choices=[k.value for k in ENGINE_KINDS],
        action="append",
        help="only runs of this kind (repeatable; default: workflow, runbook, remediation)",
    )
    p.add_argument("--status", choices=[s.value for s in RunStatus], help="only this status")
    p.add_argument("--limit", type=int, default=50, help="at most this many (default: 50)")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(handler=run_runs)

    p = sub.add_parser("analyze", help="critical path and parallel steps of a workflow")
    p.add_argument("name")
    p.add_argument("dir", nargs="?", default=".", help="repository directory (default: .)")
    stores.add_store_options(p, data_dir=None)  # optional: for recorded durations
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(handler=run_analyze)


def _quote(run_id: str) -> str:
    return urllib.parse.quote(run_id, safe="/")


def _get(args: argparse.Namespace, path: str) -> Any:
    return client.ask(args, path)


def _post(args: argparse.Namespace, path: str, body: dict[str, Any]) -> Any:
    return client.ask(args, path, method="POST", body=body)


def variables(items: list[str]) -> dict[str, Any]:
    """`--var` values; JSON scalars keep their type, anything else is a string."""
    parsed: dict[str, Any] = {}
    for name, text in runbook_vars.parse_assignments(items).items():
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        parsed[name] = value if isinstance(value, int | float | bool | str) else text
    return parsed


def run_start(args: argparse.Namespace) -> int:
    answer = _post(
        args,
        f"/api/v1/workflows/{urllib.parse.quote(args.name)}/run",
        {"variables": variables(args.var), "trigger": "cli"},
    )
    run_id = answer["run"]
    print(f"started run {run_id} of {args.name}")
    if not args.wait:
        return 0
    while True:
        run = _get(args, f"/api/v1/runs/{_quote(run_id)}")
        if run["status"] in FINISHED:
            break
        time.sleep(0.5)
    _print_run(run)
    return 0 if run["status"] == "succeeded" else 1


def run_list(args: argparse.Namespace) -> int:
    found = _get(args, "/api/v1/workflows")["workflows"]
    if args.format == "json":
        print(json.dumps(found, indent=2))
        return 0
    rows = [
        [
            w["name"],
            ", ".join(k for t in w["triggers"] for k in t) or "-",
            (w["nextRuns"] or ["-"])[0],
            f"{w['lastRun']['status']} {w['lastRun']['id']}" if w["lastRun"] else "-",
        ]
        for w in found
    ]
    print(output.table(rows, header=["WORKFLOW", "TRIGGERS", "NEXT RUN", "LAST RUN"]))
    return 0


def full_id(args: argparse.Namespace, given: str) -> str:
    """The run id `given` names: a whole id, or the start of one as the dashboard shows it
    (8 characters), matched against the daemon's newest runs."""
    if len(given) >= _WHOLE or "/" in given:
        return given
    runs = _get(args, f"/api/v1/runs?limit={_SEARCHED}")["runs"]
    found = sorted({str(r["id"]) for r in runs if r["id"].startswith(given) and "/" not in r["id"]})
    if len(found) == 1:
        return found[0]
    if not found:
        raise UsageError(f'no run id starts with "{given}" (of the newest {_SEARCHED} runs)')
    raise UsageError(f'run id "{given}" is ambiguous: {", ".join(found)}')


def run_status(args: argparse.Namespace) -> int:
    if args.run_id:
        run = _get(args, f"/api/v1/runs/{_quote(full_id(args, args.run_id))}")
        if args.format == "json":
            print(json.dumps(run, indent=2))
        else:
            _print_run(run)
        return 0
    found = [r for r in _get(args, "/api/v1/runs?limit=50")["runs"] if r["kind"] != "reconcile"]
    waiting = _get(args, "/api/v1/approvals")["approvals"]
    if args.format == "json":
        print(json.dumps({"runs": found, "approvals": waiting}, indent=2))
        return 0
    rows = [
        [r["id"], r["kind"], r["name"], r["status"], r["trigger"], r["started_at"] or "-"]
        for r in found
    ]
    print(output.table(rows, header=["RUN", "KIND", "NAME", "STATUS", "TRIGGER", "STARTED"]))
    if waiting:
        print()
        rows = [[a["runId"], a["step"], a["since"] or "-", a["prompt"]] for a in waiting]
        print(output.table(rows, header=["WAITING RUN", "STEP", "SINCE", "PROMPT"]))
    return 0


def _print_run(run: dict[str, Any]) -> None:
    print(
        f"run {run['id']} ({run['kind']} {run['name']}): {run['status']}"
        + (f": {run['error']}" if run.get("error") else "")
    )
    rows = [
        [s["name"], str(s["attempt"]), s["status"], (s.get("error") or "")[:80]]
        for s in run["steps"]
    ]
    if rows:
        print(output.table(rows, header=["STEP", "ATTEMPT", "STATUS", "ERROR"]))


_DONE = {"cancel": "cancelled", "pause": "paused", "resume": "resumed"}


def forwarded_to(reply: dict[str, Any]) -> str | None:
    """Where the daemon forwarded a request, as a reply's `forwardedTo` names it, and when
    it is done there; None when the daemon asked did it itself."""
    to = str(reply.get("forwardedTo") or "")
    if not to:
        return None
    if to.startswith(runclaims.SOURCE):
        source = to.removeprefix(runclaims.SOURCE)
        return f"the owner of source {source}: done once it claims the run"
    return f"replica {to}, which runs it: done on its next heartbeat"


def run_steer(args: argparse.Namespace) -> int:
    run_id = full_id(args, args.run_id)
    reply = client.ask(args, f"/api/v1/runs/{_quote(run_id)}/{args.action}", method="POST")
    where = forwarded_to(reply)
    if where is None:
        print(f"{_DONE[args.action]} run {run_id}")
    else:
        print(f"{args.action} of run {run_id} forwarded to {where}")
    return 0


def run_approve(args: argparse.Namespace) -> int:
    body = {"approved": not args.reject, "comment": args.comment, "approver": args.approver or ""}
    run_id = full_id(args, args.run_id)
    answer = _post(args, f"/api/v1/approvals/{_quote(run_id)}/{args.step}", body)
    verb = "approved" if answer["approved"] else "rejected"
    where = forwarded_to(answer)
    print(
        f"{verb} step {args.step} of run {run_id} as {answer['approver']}"
        + ("" if where is None else f", forwarded to {where}")
    )
    return 0


def run_runs(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    kinds = [RunKind(k) for k in args.kind] if args.kind else list(ENGINE_KINDS)
    status = RunStatus(args.status) if args.status else None
    store = stores.open_store(args)
    try:
        found = [r for k in kinds for r in store.list_runs(kind=k, status=status, limit=args.limit)]
    finally:
        store.close()
    newest = sorted(found, key=lambda r: (r.started_at or _EPOCH, r.id), reverse=True)
    shown = [_run_entry(r) for r in newest[: args.limit]]
    if args.format == "json":
        print(json.dumps({"runs": shown}, indent=2))
        return 0
    columns = ("id", "kind", "name", "status", "trigger", "started_at")
    rows = [[*(r[c] or "-" for c in columns), ", ".join(r["waiting"]) or "-"] for r in shown]
    header = ["RUN", "KIND", "NAME", "STATUS", "TRIGGER", "STARTED", "WAITING"]
    print(output.table(rows, header=header))
    return 0


def _run_entry(run: RunRecord) -> dict[str, Any]:
    """A stored run as `workflow runs --format json` lists it: the API's view of a run
    (`api.views.run`), without the steps, with the steps waiting for an answer."""
    entry = {k: v for k, v in views.run(run).items() if k != "steps"}
    return {**entry, "waiting": sorted(r.name for r in asks.waiting(run))}


def run_analyze(args: argparse.Namespace) -> int:
    root = Path(args.dir)
    if not root.is_dir():
        raise UsageError(f"{root}: not a directory")
    snapshot = loader.load(tree.DirectoryTree(root))
    found = {m.metadata.name: m for _, m in snapshot.workflows if isinstance(m, flows.Workflow)}
    if args.name not in found:
        known = ", ".join(sorted(found)) or "none"
        raise UsageError(f'no workflow named "{args.name}" (known: {known})')
    stats = _recorded(args, args.name) if stores.given(args) else {}
    result = history.analyze(found[args.name], history=stats, default=_DEFAULT)
    recorded = {name for name, known in stats.items() if known.ewma is not None}
    if args.format == "json":
        print(
            json.dumps(
                {
                    "criticalPath": list(result.critical_path),
                    "parallelGroups": [list(g) for g in result.parallel_groups],
                    "expectedSeconds": result.expected_duration,
                    "estimates": dict(result.estimates),
                    "recorded": sorted(recorded & set(result.estimates)),
                },
                indent=2,
            )
        )
        return 0
    if not recorded:
        where = f"in {stores.described(args)}" if stores.given(args) else "(no --data-dir)"
        print(
            f"no recorded durations of {args.name} {where}: the estimates are the steps' "
            f"waits and timeouts ({seconds(_DEFAULT)} for a step with neither)"
        )
    print(f"critical path: {' -> '.join(result.critical_path)}")
    print(f"expected duration: {seconds(result.expected_duration)}")
    for index, group in enumerate(result.parallel_groups, 1):
        together = " (can run in parallel)" if len(group) > 1 else ""
        print(f"stage {index}: {', '.join(group)}{together}")
    rows = [
        [name, seconds(estimate), "recorded" if name in recorded else "estimate"]
        for name, estimate in result.estimates.items()
    ]
    print(output.table(rows, header=["STEP", "DURATION", "FROM"]))
    return 0


def seconds(value: float) -> str:
    """A duration for people: `250ms` below a second, else `1.5s`."""
    return f"{value * 1000:.0f}ms" if value < 1 else f"{value:.1f}s"


def _recorded(args: argparse.Namespace, name: str) -> dict[str, history.StepStats]:
    store = stores.open_store(args)
    try:
        found = store.list_runs(kind=RunKind.WORKFLOW, limit=500)
        return history.stats(reversed([r for r in found if r.name == name]))
    finally:
        store.close()
