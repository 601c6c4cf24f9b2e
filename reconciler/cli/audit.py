"""`reconciler audit verify|export`: check and hand out the daemon's hash-chained audit log.

`verify` walks the chain in the store of `--data-dir` and exits 1 naming the first edited,
removed or reordered entry (by position and id); 0 with the count and head hash when it is
intact. `export` writes the entries as JSON Lines (one entry per line, with its hashes) for
a SIEM. Both read the store only; neither loads the daemon or the web stack
(docs/audit.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import IO, Any

from reconciler.cli import options, stores
from reconciler.errors import UsageError

_PAGE = 1000


def declare(p: argparse.ArgumentParser) -> None:
    p.description = (
        "The audit log chains each entry to the one before it by SHA-256. "
        "`verify` finds the first edited, removed or reordered entry (exit 1); `export` "
        "writes JSON Lines for a SIEM."
    )
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    verify = actions.add_parser(
        "verify", help="walk the chain; exit 1 naming the first entry that breaks it"
    )
    stores.add_store_options(verify)
    verify.add_argument(
        "--anchors",
        metavar="PATH",
        help="also check every head anchored in this Git repository is still in the chain",
    )
    options.add_format(verify, "text", "json")
    verify.set_defaults(handler=run_verify)
    export = actions.add_parser("export", help="write the entries as JSON Lines (for a SIEM)")
    stores.add_store_options(export)
    export.add_argument(
        "--since", type=int, default=0, metavar="SEQ", help="only entries after position SEQ"
    )
    export.add_argument("-o", "--output", metavar="FILE", help="write here (default: stdout)")
    export.set_defaults(handler=run_export)


def run_verify(args: argparse.Namespace) -> int:
    store = stores.open_store(args)
    try:
        found = store.verify_audit()
        kept, unanchored = _anchors(args, store, head_seq=found.head_seq, walk=found.intact)
    finally:
        store.close()
    intact = found.intact and unanchored is None
    if args.format == "json":
        extra = {} if kept is None else {"anchors": len(kept), "anchorProblem": unanchored}
        print(json.dumps({**found.to_json(), **extra, "intact": intact}, indent=2))
    elif not found.intact:
        print(f"audit log broken at entry {found.seq} (id {found.id}): {found.message}")
        print(f"the {found.count} entries before it are intact (head {found.head})")
    elif unanchored is not None:
        print(f"audit log does not hold its anchors: {unanchored}")
    else:
        print(f"audit log intact: {found.count} entries, head {found.head_seq} {found.head}")
        if kept is not None:
            print(f"{len(kept)} anchors hold" + (f", newest {kept[-1].describe()}" if kept else ""))
    return 0 if intact else 1


def _anchors(
    args: argparse.Namespace, store: Any, *, head_seq: int, walk: bool
) -> tuple[list[Any] | None, str | None]:
    """The anchors in `--anchors` and the first one the chain no longer holds."""
    if not args.anchors:
        return None, None
    from reconciler.store import anchors

    kept = anchors.read(Path(args.anchors))
    return kept, anchors.check(store, kept, head_seq=head_seq) if walk else None


def run_export(args: argparse.Namespace) -> int:
    if args.since < 0:
        raise UsageError(f"--since must be a position (0 or more), got {args.since}")
    store = stores.open_store(args)
    try:
        if args.output:
            with _open(args.output) as out:
                count = _write(store, out, since=args.since)
            print(f"{count} entries written to {args.output}", file=sys.stderr)
        else:
            _write(store, sys.stdout, since=args.since)
    finally:
        store.close()
    return 0


def _open(name: str) -> IO[str]:
    try:
        return Path(name).open("w", encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{name}: cannot write: {(exc.strerror or str(exc)).lower()}") from None


def _write(store: Any, out: IO[str], *, since: int) -> int:
    count, after = 0, since
    while page := store.audit_entries(since=after, limit=_PAGE):
        for entry in page:
            out.write(json.dumps(entry.to_json(), sort_keys=True, ensure_ascii=False) + "\n")
        count, after = count + len(page), page[-1].seq
    return count
