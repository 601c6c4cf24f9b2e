"""`reconciler decisions list|show|replay`: the daemon's own decisions, read from its store.

`replay ID` re-scores a stored decision from its stored context and options against the
rules of a repository as it is now (DIR, or --repo/--rev) and the outcome history in the
store now, and shows what would change: the choice, the confidence, the level, and each
option's score.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from reconciler.cli import options, stores
from reconciler.errors import UsageError


def declare(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    ls = actions.add_parser("list", help="the newest decisions, with filters")
    stores.add_store_options(ls)
    ls.add_argument("--type", help="only this decision type (e.g. remediation)")
    ls.add_argument("--subject", help="only this subject (binding/resource key)")
    ls.add_argument("--outcome", help="only this outcome (pending, succeeded, failed, ...)")
    ls.add_argument("--limit", type=int, default=50, help="at most this many (default: 50)")
    options.add_format(ls, "table", "json")
    ls.set_defaults(handler=run_list)
    show = actions.add_parser("show", help="one decision with its scores and explanation")
    stores.add_store_options(show)
    show.add_argument("id", help="the decision id (a unique prefix is enough)")
    options.add_format(show, "text", "json")
    show.set_defaults(handler=run_show)
    replay = actions.add_parser(
        "replay", help="re-score a decision against the repository's rules and history now"
    )
    stores.add_store_options(replay)
    replay.add_argument("id", help="the decision id (a unique prefix is enough)")
    options.add_source_options(replay)
    options.add_format(replay, "text", "json")
    replay.set_defaults(handler=run_replay)


def _find(store: Any, wanted: str) -> Any:
    from reconciler.decide import ledger

    entry = store.get_daemon_decision(wanted)
    if entry is None:
        found = [e for e in store.daemon_decisions(limit=100_000) if e.id.startswith(wanted)]
        if len(found) != 1:
            why = "no decision" if not found else f"{len(found)} decisions"
            raise UsageError(f'{why} with an id starting "{wanted}"')
        entry = found[0]
    return ledger.from_entry(entry)


def run_list(args: argparse.Namespace) -> int:
    store = stores.open_store(args)
    try:
        entries = store.daemon_decisions(
            type=args.type, subject=args.subject, outcome=args.outcome, limit=args.limit
        )
    finally:
        store.close()
    if args.format == "json":
        from reconciler.decide.ledger import summary

        print(json.dumps({"decisions": [summary(e) for e in entries]}, indent=2))
        return 0
    if not entries:
        print("no decisions")
        return 0
    for e in entries:
        print(
            f"{e.id[:12]}  {e.at:%Y-%m-%d %H:%M:%S}  {e.type:<11} {e.subject:<40} "
            f"{e.option or '-':<28} {e.confidence:.2f} {e.level:<10} {e.outcome}"
        )
    return 0


def run_show(args: argparse.Namespace) -> int:
    store = stores.open_store(args)
    try:
        record = _find(store, args.id)
    finally:
        store.close()
    if args.format == "json":
        print(json.dumps(record.to_json(), indent=2))
        return 0
    print(f"decision {record.id}  ({record.at})")
    print(record.explanation)
    who = f" by {record.approver}" if record.approver else ""
    print(f"outcome: {record.outcome.value}{who}" + (f" — {record.note}" if record.note else ""))
    if record.run_id:
        print(f"run: {record.run_id}")
    if record.rule_problem:
        print(f"rules: {record.rule_problem}", file=sys.stderr)
    return 0


def run_replay(args: argparse.Namespace) -> int:
    from reconciler.cli import check
    from reconciler.decide import decider, ledger

    store = stores.open_store(args)
    try:
        before = _find(store, args.id)
        checked = check.load_and_compile(args)
        if checked.problems:
            raise UsageError(f"the repository has {len(checked.problems)} problems: run validate")
        after = decider.decide(
            before.context,
            before.options,
            settings=checked.snapshot.settings.spec.decisions,
            history=ledger.StoreHistory(store),
            engine=checked.bundle.new_engine(),
            approval=before.approval,
            at=before.at,
        )
    finally:
        store.close()
    changes = compare(before, after)
    if args.format == "json":
        print(
            json.dumps({"before": before.to_json(), "after": after.to_json(), "changes": changes})
        )
        return 0
    print(f"replay of decision {before.id} ({before.context.type} for {before.context.subject})")
    print("\n".join(changes) if changes else "no change: the same choice, confidence and level")
    return 0


def compare(before: Any, after: Any) -> list[str]:
    """What differs between a stored decision and its replay, one line each."""
    lines = []
    old, new = before.choice, after.choice
    if old.chosen != new.chosen:
        lines.append(f"choice: {_name(old.chosen)} -> {_name(new.chosen)}")
    if round(old.confidence, 3) != round(new.confidence, 3):
        lines.append(f"confidence: {old.confidence:.3f} -> {new.confidence:.3f}")
    if before.level != after.level:
        lines.append(f"level: {before.level.value} -> {after.level.value}")
    was = {s.option.name: s for s in old.scores}
    for score in new.scores:
        prior = was.get(score.option.name)
        if prior is None or round(prior.combined, 3) != round(score.combined, 3):
            then = f"{prior.combined:.3f}" if prior else "absent"
            lines.append(
                f"  {score.option.name}: {then} -> {score.combined:.3f}"
                f" (rule {_num(prior.rule if prior else None)} -> {_num(score.rule)},"
                f" history {_hist(prior)} -> {_hist(score)})"
            )
    return lines


def _name(option: Any) -> str:
    return option.name if option is not None else "nothing"


def _num(value: float | None) -> str:
    return "none" if value is None else f"{value:.2f}"


def _hist(score: Any) -> str:
    return "-" if score is None else f"{score.successes:g}/{score.successes + score.failures:g}"
