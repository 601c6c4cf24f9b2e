"""A proposal is a commit: the change written into the repository's YAML on a branch,
simulated between the watched branch and that branch, decided on by the decision engine,
and committed to the watched branch only when the decision's level lets the daemon act
alone and the simulation shows no strict denial. Anything else stays on its branch for a
human to merge. Every proposal, landed or not, is stored as a daemon decision.

Only local repositories are handled: a remote source would need the branch pushed and a
pull request opened, which this module does not do yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from reconciler.clock import Clock
from reconciler.decide import context, decider, ledger, levels
from reconciler.decide.records import Context, DecisionRecord, Option
from reconciler.optimize import yamledit
from reconciler.optimize.records import Change, State, with_facts
from reconciler.simulate import simulation
from reconciler.simulate.records import Report
from reconciler.simulate.settings import SimulateSettings
from reconciler.source import git
from reconciler.source.revision import Revision
from reconciler.source.settings import SourceSettings
from reconciler.specs.decisions import DecisionSettings
from reconciler.specs.optimization import OptimizationSettings
from reconciler.store.daemon_decisions import DaemonDecisions
from reconciler.store.interfaces import Runs


class OptimizerStore(DaemonDecisions, Runs, Protocol):
    """What optimizations keep and read: decisions, and the daemon's run history."""


COMMIT = Option(kind="action", target="commit")


@dataclass(frozen=True, kw_only=True)
class Workspace:
    """What a proposal needs: the local repository and its watched branch, the daemon's
    data directory (observed state for the simulation), the store and the settings."""

    repo: Path
    ref: str
    store: OptimizerStore
    clock: Clock
    data_dir: Path | None = None
    settings: OptimizationSettings = field(default_factory=OptimizationSettings)
    decisions: DecisionSettings = field(default_factory=DecisionSettings)
    simulate: SimulateSettings = field(default_factory=SimulateSettings)

    @property
    def source(self) -> SourceSettings:
        return SourceSettings(path=self.repo, ref=self.ref)

    def watched(self) -> Revision:
        return git.GitSource.open(self.source).resolve(self.ref)


def submit(
    change: Change, *, ws: Workspace, type: str = "optimization", revert_of: str | None = None
) -> DecisionRecord:
    """Commit `change` on a branch, simulate it, decide, and land it when allowed."""
    base = ws.watched()
    branch = f"optimize/{'revert-' if revert_of else ''}{change.name}-{base.sha[:10]}"
    earlier = _proposed_on(ws.store, type=type, subject=change.subject, branch=branch)
    if earlier is not None:
        return earlier  # proposed at this revision already: the same commit again
    sha = git.commit_file_on_branch(
        ws.repo,
        branch=branch,
        base=base.sha,
        message=_message(change, revert_of),
        files={change.path: _edited(ws, base, change).encode()},
    )
    report = simulation.simulate(
        simulation.Request(
            source=ws.source, base=base.sha, head=sha, data_dir=ws.data_dir, settings=ws.simulate
        ),
        clock=ws.clock,
    )
    denials = _strict_denials(report, change.resource)
    now = ws.clock.now()
    record = decider.decide(
        Context(
            type=type,
            subject=change.subject,
            kind=change.resource.split("/")[0],
            window=context.window(now, ws.decisions),
            facts={
                "change": change.to_json(),
                "branch": branch,
                "commit": sha,
                "base": base.sha,
                "revertOf": revert_of,
                "simulation": {
                    "verdict": report.verdict_text,
                    "denials": denials,
                    "label": report.label,
                },
            },
        ),
        [COMMIT],
        settings=ws.decisions,
        history=ledger.StoreHistory(ws.store),
        approval=ws.settings.approval,
        at=now.isoformat(),
    )
    record = _land(record, ws=ws, branch=branch, sha=sha, denials=denials)
    ws.store.put_daemon_decision(ledger.to_entry(record))
    return record


def _land(
    record: DecisionRecord, *, ws: Workspace, branch: str, sha: str, denials: list[str]
) -> DecisionRecord:
    if denials:
        note = f"the simulation shows a strict denial ({'; '.join(denials)}): left on {branch}"
        return with_facts(record, state=State.BLOCKED.value, note=note)
    if levels.needs_approval(record.level):
        note = f"level {record.level.value} needs a human: merge {branch} to apply it"
        return with_facts(record, state=State.PROPOSED.value, note=note)
    if not git.fast_forward(ws.repo, branch=ws.ref, to=sha):
        note = f"{ws.ref} moved since the proposal: left on {branch}"
        return with_facts(record, state=State.PROPOSED.value, note=note)
    note = f"committed to {ws.ref} at level {record.level.value}"
    return with_facts(
        record, state=State.LANDED.value, note=note, landedAt=ws.clock.now().isoformat()
    )


def _edited(ws: Workspace, base: Revision, change: Change) -> str:
    tree = git.GitSource.open(ws.source).tree(base)
    entry = next((e for e in tree.entries() if e.path == change.path), None)
    if entry is None:
        raise yamledit.EditFailed(f"{change.path}: not in {base.sha[:10]}")
    text, _ = yamledit.set_field(
        tree.read(entry).decode(),
        path=change.path,
        index=change.index,
        field=change.field,
        value=change.written,
    )
    return text


def _proposed_on(
    store: DaemonDecisions, *, type: str, subject: str, branch: str
) -> DecisionRecord | None:
    for entry in store.daemon_decisions(type=type, subject=subject, limit=1000):
        if entry.record.get("context", {}).get("facts", {}).get("branch") == branch:
            return ledger.from_entry(entry)
    return None


def _strict_denials(report: Report, resource: str) -> list[str]:
    """Why the proposal must not land on its own: the report's blocking reasons and any
    strict policy that blocks the changed resource at the proposal's head."""
    found = list(report.blocking_reasons())
    blocked = report.decisions.blocked_at_head.get(resource, []) if report.decisions else []
    found += [f"{policy} denies {resource}" for policy in blocked]
    return found


def _message(change: Change, revert_of: str | None) -> str:
    title = f"Revert optimization {change.subject}" if revert_of else f"Optimize {change.subject}"
    return (
        f"{title}: {change.field} {change.old:g} -> {change.new:g}\n\n"
        f"{change.reason}\nObjective: {change.objective}\n"
    )
