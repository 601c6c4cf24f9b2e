"""Reading optimizations back: the stored proposals and reverts, and the one shape the
CLI, the JSON API and the dashboard show them in — with where each landed (by the daemon
or a human's merge) or why it closed, and the policy bindings its run flagged."""

from __future__ import annotations

from typing import Any, Protocol

from reconciler.decide import ledger
from reconciler.decide.records import DecisionRecord
from reconciler.optimize.records import TYPES, change_of, shown
from reconciler.runstate import RunKind
from reconciler.store.daemon_decisions import DaemonDecisions
from reconciler.store.interfaces import Runs
from reconciler.store.proposals import Proposals


class CatalogStore(DaemonDecisions, Proposals, Runs, Protocol):
    """What showing optimizations reads."""


def listed(store: DaemonDecisions, *, limit: int = 100) -> list[DecisionRecord]:
    """Proposals and reverts, newest first."""
    entries = [e for t in TYPES for e in store.daemon_decisions(type=t, limit=limit)]
    entries.sort(key=lambda e: e.at, reverse=True)
    return [ledger.from_entry(e) for e in entries[:limit]]


def find(store: DaemonDecisions, wanted: str) -> DecisionRecord | None:
    """The optimization whose id is `wanted` or starts with it (when only one does)."""
    entry = store.get_daemon_decision(wanted)
    if entry is None:
        found = [r for r in listed(store, limit=100_000) if r.id.startswith(wanted)]
        return found[0] if len(found) == 1 else None
    return ledger.from_entry(entry) if entry.type in TYPES else None


def summary(record: DecisionRecord) -> dict[str, Any]:
    change, facts = change_of(record), record.context.facts
    return {
        "id": record.id,
        "at": record.at,
        "type": record.context.type,
        "subject": change.subject,
        "resource": change.resource,
        "field": change.field,
        "old": change.old,
        "new": change.new,
        "changeText": f"{shown(change.old)} -> {shown(change.new)}",
        "state": facts["state"],
        "level": record.level.value,
        "outcome": record.outcome.value,
        "branch": facts["branch"],
        "commit": facts["commit"],
        "simulation": facts["simulation"]["verdict"],
    }


def detail(record: DecisionRecord) -> dict[str, Any]:
    """Everything shown about one optimization: the summary, the change with its reason
    and trade-off table, the simulation, the decision's explanation and, once measured,
    the before/after regression test."""
    facts = record.context.facts
    return {
        **summary(record),
        "change": change_of(record).to_json(),
        "simulationDetail": facts["simulation"],
        "note": facts.get("note", ""),
        "explanation": record.explanation,
        "confidence": record.choice.confidence,
        "landedAt": facts.get("landedAt"),
        "landedBy": facts.get("landedBy"),
        "landedCommit": facts.get("landedCommit"),
        "closedReason": facts.get("closedReason"),
        "runId": record.run_id,
        "regression": facts.get("regression"),
        "revert": facts.get("revert"),
        "revertOf": facts.get("revertOf"),
    }


def described(store: CatalogStore, record: DecisionRecord) -> dict[str, Any]:
    """`detail` with the bindings flagged by the run that made the proposal."""
    return {**detail(record), "flagged": store.flagged(record.run_id) if record.run_id else []}


def latest_flagged(store: CatalogStore) -> dict[str, Any] | None:
    """The newest optimization run's flagged bindings (`{"runId", "bindings"}`); None
    before any run."""
    runs = store.list_runs(kind=RunKind.OPTIMIZATION, limit=1)
    return {"runId": runs[0].id, "bindings": store.flagged(runs[0].id)} if runs else None


def text(record: DecisionRecord, *, flagged: list[str] | None = None) -> str:
    """`detail` for a terminal, with the bindings its run flagged when given."""
    d = detail(record)
    change = d["change"]
    lines = [
        f"{d['type']} {d['id']}  ({d['at']})",
        f"{change['resource']} {change['path']} {change['field']}: "
        f"{shown(change['old'])} -> {shown(change['new'])}",
        f"reason: {change['reason']}",
        f"objective: {change['objective']}",
        f"state: {d['state']}  level: {d['level']}  outcome: {d['outcome']}",
        f"branch: {d['branch']}  commit: {d['commit'][:12]}",
        f"simulation: {d['simulation']}",
        *(f"  denial: {x}" for x in d["simulationDetail"]["denials"]),
    ]
    if change["tradeoff"]:
        columns = list(change["tradeoff"][0])
        lines.append("trade-off (lower score wins):")
        lines.append("  " + "  ".join(f"{c:<11}" for c in columns).rstrip())
        lines += [
            "  " + "  ".join(f"{row[c]:<11g}" for c in columns).rstrip()
            for row in change["tradeoff"]
        ]
    if d["landedBy"]:
        lines.append(f"landed: by {d['landedBy']} at {d['landedCommit'][:12]} ({d['landedAt']})")
    if d["closedReason"]:
        lines.append(f"closed: {d['closedReason']}")
    if d["regression"]:
        r = d["regression"]
        lines.append(
            f"regression test: {r['reason']} (median {r['beforeMedian']:g} -> {r['afterMedian']:g})"
        )
    lines += [d["explanation"], *([f"note: {d['note']}"] if d["note"] else [])]
    if flagged:
        lines += ["flagged by its run:", *(f"  {note}" for note in flagged)]
    return "\n".join(lines)
