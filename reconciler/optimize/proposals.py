"""A proposal is a commit: the change written into the repository's YAML on a branch,
simulated between the watched branch and that branch, decided on by the decision engine,
and committed to the watched branch only when the decision's level lets the daemon act
alone and the simulation shows no strict denial. Anything else stays on its branch for a
human to merge. Every proposal, landed or not, is stored as a daemon decision.

A remote source's proposal is committed in the daemon's mirror of it, its branch pushed,
and a pull (merge) request opened for a human (`pulls.py`) — never committed to the
watched branch by the daemon, whose mirror only follows the remote.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from reconciler.clock import Clock
from reconciler.decide import context, decider, ledger, levels
from reconciler.decide.records import Context, DecisionRecord, Option
from reconciler.errors import UsageError
from reconciler.events import Bus, EventType
from reconciler.optimize import lifecycle, pulls, yamledit
from reconciler.optimize.records import Change, State, announce, change_of, shown, with_facts
from reconciler.policy import rego
from reconciler.reconcile.simulations import forge
from reconciler.run.runlog import RunStore
from reconciler.simulate import simulation
from reconciler.simulate.records import Report
from reconciler.simulate.settings import SimulateSettings
from reconciler.source import git
from reconciler.source.revision import Revision
from reconciler.source.settings import SourceSettings
from reconciler.specs.decisions import DecisionSettings
from reconciler.specs.optimization import OptimizationSettings
from reconciler.store.daemon_decisions import DaemonDecisions
from reconciler.store.interfaces import DecisionLog, Events
from reconciler.store.learners import Learners
from reconciler.store.proposals import Proposals


class OptimizerStore(DaemonDecisions, DecisionLog, RunStore, Events, Learners, Proposals, Protocol):
    """What optimizations keep and read: decisions, the decision log of the policies, the
    daemon's run history and event feed (drift), the learners' state, and the proposals'
    lifecycles."""


COMMIT = Option(kind="action", target="commit")


@dataclass(frozen=True, kw_only=True)
class Workspace:
    """What a proposal needs: the local repository and its watched branch, the daemon's
    data directory (observed state for the simulation), the store and the settings."""

    repo: Path | None  # a local source; None for a remote one
    ref: str
    store: OptimizerStore
    clock: Clock
    data_dir: Path | None = None
    remote: SourceSettings | None = None  # a remote source
    forges: pulls.Clients | None = None  # forge clients for pull requests of a remote source
    run_id: str | None = None  # the optimization run proposals are made in
    rules: rego.RegoEngine | None = None  # the revision's policies, for the decision rules
    bus: Bus | None = None  # the daemon's: decisions become events (audit, notifications)
    settings: OptimizationSettings = field(default_factory=OptimizationSettings)
    decisions: DecisionSettings = field(default_factory=DecisionSettings)
    simulate: SimulateSettings = field(default_factory=SimulateSettings)

    @property
    def source(self) -> SourceSettings:
        return self.remote or SourceSettings(path=self.repo, ref=self.ref)

    @property
    def local(self) -> Path:
        """Where commits are made: the repository, or the mirror of a remote one."""
        if self.remote is not None:
            return git.cache_path(self.remote)
        if self.repo is None:
            raise UsageError("an optimization needs a local repository or a remote source")
        return self.repo

    def watched(self) -> Revision:
        found = git.GitSource.open(self.source)
        found.fetch()
        return found.resolve(self.ref)


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
        ws.local,
        branch=branch,
        base=base.sha,
        message=_message(change, revert_of),
        files={change.path: _edited(ws, base, change).encode()},
    )
    if ws.remote is not None:  # before the simulation's fetch, which prunes unknown branches
        git.push_branch(ws.remote, branch=branch)
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
        engine=ws.rules,
        package=f"data.reconciler.decisions.{type.replace('-', '_')}",
    )
    record = _land(
        replace(record, run_id=ws.run_id), ws=ws, branch=branch, sha=sha, denials=denials
    )
    lifecycle.save(ws.store, record, at=now)
    announce(
        ws.bus,
        EventType.DECISION_TAKEN,
        record,
        at=now,
        message=f"{record.context.facts['state']}: {record.context.facts['note']}",
    )
    return record


def _land(
    record: DecisionRecord, *, ws: Workspace, branch: str, sha: str, denials: list[str]
) -> DecisionRecord:
    if ws.remote is not None:
        return _review(record, ws=ws, branch=branch, denials=denials)
    if denials:
        note = f"the simulation shows a strict denial ({'; '.join(denials)}): left on {branch}"
        return with_facts(record, state=State.BLOCKED.value, note=note)
    if levels.needs_approval(record.level):
        note = f"level {record.level.value} needs a human: merge {branch} to apply it"
        return with_facts(record, state=State.PROPOSED.value, note=note)
    if not git.fast_forward(ws.local, branch=ws.ref, to=sha):
        note = f"{ws.ref} moved since the proposal: left on {branch}"
        return with_facts(record, state=State.PROPOSED.value, note=note)
    note = f"committed to {ws.ref} at level {record.level.value}"
    return with_facts(
        record,
        state=State.LANDED.value,
        note=note,
        landedAt=ws.clock.now().isoformat(),
        landedBy="daemon",
        landedCommit=sha,
    )


def _review(
    record: DecisionRecord, *, ws: Workspace, branch: str, denials: list[str]
) -> DecisionRecord:
    """A remote source's proposal: its pushed branch opened as a pull request for a human."""
    state = State.BLOCKED if denials else State.PROPOSED
    target = ws.settings.pull_requests
    client = ws.forges(target.forge) if ws.forges and target else None
    if target is None or client is None:
        note = f"pushed {branch}; no forge to open a pull request on (optimization.pullRequests)"
        return with_facts(record, state=state.value, note=note)
    change = change_of(record)
    try:
        opened = pulls.open_request(
            client,
            target=target,
            branch=branch,
            base=ws.ref,
            title=_message(change, record.context.facts.get("revertOf")).splitlines()[0],
            body=_review_body(record, denials),
        )
    except forge.ForgeError as exc:
        note = f"pushed {branch}; the pull request was not opened: {exc}"
        return with_facts(record, state=state.value, note=note)
    note = f"pull request opened from {branch} for a human to merge"
    return with_facts(record, state=state.value, note=note, pullRequest=opened)


def _review_body(record: DecisionRecord, denials: list[str]) -> str:
    change, simulated = change_of(record), record.context.facts["simulation"]
    rows = [f"| {' | '.join(f'{v:g}' for v in row.values())} |" for row in change.tradeoff]
    columns = list(change.tradeoff[0]) if change.tradeoff else []
    table = [f"| {' | '.join(columns)} |", "|" + " --- |" * len(columns), *rows] if rows else []
    return "\n".join(
        [
            f"{change.reason}",
            "",
            f"Objective: {change.objective}",
            "",
            f"Simulation: **{simulated['verdict']}**",
            *(f"- {d}" for d in denials),
            "",
            *table,
            "",
            record.explanation,
        ]
    )


def _edited(ws: Workspace, base: Revision, change: Change) -> str:
    tree = git.GitSource.open(ws.source).tree(base)
    entry = next((e for e in tree.entries() if e.path == change.path), None)
    if entry is None:
        raise yamledit.EditFailed(f"{change.path}: not in {base.sha[:10]}")
    text, _ = yamledit.edit(
        tree.read(entry).decode(), path=change.path, index=change.index, edits=change.edits
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
        f"{title}: {change.field} {shown(change.old)} -> {shown(change.new)}\n\n"
        f"{change.reason}\nObjective: {change.objective}\n"
    )
