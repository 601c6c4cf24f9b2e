"""`reconciler optimize run|list|show`: optimization runs on demand and their proposals.

`run` performs one optimization run against a local repository (DIR) and a Prometheus
server, storing its proposals in the daemon's store in `--data-dir` (created when absent),
and noticing which earlier proposals people merged or closed; `list` and `show` read them
back (from `--data-dir`, or `--store-url`: the store the daemons share) with their state,
and the policy bindings the latest run (`list`) or the proposal's run (`show`) flagged.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from reconciler.cli import options, stores
from reconciler.errors import UsageError


def declare(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    run = actions.add_parser("run", help="one optimization run now")
    run.add_argument("dir", nargs="?", default=".", help="local Git repository (default: .)")
    run.add_argument("--ref", default="main", help="the watched branch (default: main)")
    run.add_argument(
        "--prometheus",
        help="Prometheus base URL (without it, optimizers that read metrics are skipped)",
    )
    _data_dir(run)
    options.add_format(run, "text", "json")
    run.set_defaults(handler=run_run)
    ls = actions.add_parser("list", help="proposals and reverts, newest first")
    stores.add_store_options(ls)
    ls.add_argument("--limit", type=int, default=50, help="at most this many (default: 50)")
    options.add_format(ls, "table", "json")
    ls.set_defaults(handler=run_list)
    show = actions.add_parser("show", help="one proposal: change, trade-off, simulation")
    stores.add_store_options(show)
    show.add_argument("id", help="the proposal's id (a unique prefix is enough)")
    options.add_format(show, "text", "json")
    show.set_defaults(handler=run_show)


def _data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir", default=".reconciler", help="the daemon's data directory (.reconciler)"
    )
    parser.set_defaults(store_url=None)  # `run` writes its own store, never the shared one


def run_run(args: argparse.Namespace) -> int:
    from reconciler.clock import SystemClock
    from reconciler.optimize import catalog, proposals, runner
    from reconciler.run import triggers

    store = stores.open_store(args, create=True)
    try:
        ws = proposals.Workspace(
            repo=Path(args.dir).resolve(),
            ref=args.ref,
            store=store,
            clock=SystemClock(),
            data_dir=Path(args.data_dir),
        )
        client = triggers.Prometheus(args.prometheus) if args.prometheus else None
        result = runner.run(ws, prometheus=client)
    finally:
        store.close()
    made = [catalog.summary(r) for r in (*result.proposals, *result.reverts)]
    if args.format == "json":
        print(
            json.dumps(
                {
                    "revision": result.revision,
                    "proposals": made,
                    "skipped": list(result.skipped),
                    "flagged": list(result.flagged),
                    "landed": [catalog.summary(r) for r in result.watched.landed],
                    "closed": [catalog.summary(r) for r in result.watched.closed],
                },
                indent=2,
            )
        )
        return 0
    for item in made:
        print(_line(item))
    for reason in result.skipped:
        print(f"skipped {reason}")
    for note in result.flagged:
        print(f"flagged {note}")
    for record in result.watched.landed:
        print(f"landed {record.id[:12]}  {record.context.facts['note']}")
    for record in result.watched.closed:
        print(f"closed {record.id[:12]}  {record.context.facts['note']}")
    if not made and not result.skipped and not result.flagged:
        print("nothing to optimize: the repository's reconciler.yaml names no optimization")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from reconciler.optimize import catalog

    store = stores.open_store(args)
    try:
        found = [catalog.summary(r) for r in catalog.listed(store, limit=args.limit)]
        flagged = catalog.latest_flagged(store)
    finally:
        store.close()
    if args.format == "json":
        print(json.dumps({"optimizations": found, "flagged": flagged}, indent=2))
        return 0
    print("\n".join(_line(item) for item in found) if found else "no optimizations")
    if flagged is not None:
        for note in flagged["bindings"]:
            print(f"flagged by run {flagged['runId'][:12]}: {note}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    from reconciler.optimize import catalog

    store = stores.open_store(args)
    try:
        record = catalog.find(store, args.id)
        shown = None if record is None else catalog.described(store, record)
    finally:
        store.close()
    if record is None or shown is None:
        raise UsageError(f'no single optimization with an id starting "{args.id}"')
    if args.format == "json":
        print(json.dumps(shown, indent=2))
    else:
        print(catalog.text(record, flagged=shown["flagged"]))
    return 0


def _line(item: dict[str, Any]) -> str:
    return (
        f"{item['id'][:12]}  {item['type']:<20} {item['subject']:<24} "
        f"{item['field']} {item['old']:g} -> {item['new']:g}  {item['state']:<9} "
        f"{item['level']:<10} {item['simulation']}"
    )
