"""Proposals a human merges, rejects or replaces: each optimization run looks at every
proposal still on its branch (`proposed` or `blocked`) and at the watched branch.

- **Landed**: the proposal's commit is on the watched branch (a merge, or a fast-forward
  made by hand), or — after a squash or rebase merge, whose commits are new — the watched
  branch's file holds every value the proposal set. It is marked landed by `merge` at the
  watched branch's commit that brought it, and its landing time is that commit's time,
  not the time it was noticed, so its regression windows sit where the change really
  happened. An optimization's decision then settles when its regression window has passed
  (`rollback.check`: kept, or a revert proposed); a recommendation's or a revert's, which
  have no window, settle at once as succeeded — and a landed revert marks the proposal it
  reverts `reverted`.
- **Closed**: its branch is gone (deleted, or pruned from the mirror when the pull request
  was closed and its branch removed): the decision is settled `rejected`. Or a newer
  proposal of the same subject is open or landed: the older is settled `skipped`,
  superseded by it.

This runs with each optimization run rather than on each revision the daemon serves: the
run already holds the workspace, the store and Prometheus the regression test needs, and
because the landing time is read from the commit, noticing later moves nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from reconciler.decide import ledger
from reconciler.decide.records import DecisionRecord, Outcome
from reconciler.events import EventType
from reconciler.optimize import lifecycle, proposals, yamledit
from reconciler.optimize.records import TYPES, State, announce, change_of, with_facts
from reconciler.source import git
from reconciler.source.revision import Revision
from reconciler.store import proposals as stored

UNSETTLED_AT_LANDING = ("optimization",)
"""Types whose decision waits for the regression test after landing."""


@dataclass(frozen=True, kw_only=True)
class Watched:
    """What one look found: proposals newly landed by a merge, and newly closed."""

    landed: tuple[DecisionRecord, ...] = ()
    closed: tuple[DecisionRecord, ...] = ()


def watch(ws: proposals.Workspace) -> Watched:
    """Mark the open proposals that landed or closed since the last look (module doc).
    Newest first, so a proposal that replaced an older one is settled before it."""
    ws.watched()  # fetches a remote source's mirror: its branches as the remote has them
    _adopt(ws)
    landed, closed = [], []
    for entry in ws.store.proposals(states=stored.OPEN, limit=10_000):
        found = ws.store.get_daemon_decision(entry.id)
        if found is None:
            continue
        record = ledger.from_entry(found)
        newer = _newer(ws, entry)
        by = git.merged_by(ws.local, branch=ws.ref, commit=entry.commit)
        if by is None and newer is None:
            by = _squashed(ws, record, entry)
        if by is not None:
            landed.append(_landed(ws, record, by))
        elif not git.has_branch(ws.local, entry.branch):
            closed.append(_closed(ws, record, f"branch {entry.branch} deleted", Outcome.REJECTED))
        elif newer is not None:
            closed.append(_closed(ws, record, f"superseded by {newer[:12]}", Outcome.SKIPPED))
    return Watched(landed=tuple(landed), closed=tuple(closed))


def _adopt(ws: proposals.Workspace) -> None:
    """Give a lifecycle row to each open proposal without one (made by a reconciler from
    before the rows existed), so it is watched like the rest."""
    now = ws.clock.now()
    for type in TYPES:
        for found in ws.store.daemon_decisions(type=type, outcome="pending", limit=10_000):
            state = found.record.get("context", {}).get("facts", {}).get("state")
            if state in stored.OPEN and ws.store.get_proposal(found.id) is None:
                lifecycle.save(ws.store, ledger.from_entry(found), at=now)


def _newer(ws: proposals.Workspace, entry: stored.ProposalEntry) -> str | None:
    """The id of a later proposal of the same subject that still stands, if any."""
    for other in ws.store.proposals(type=entry.type, subject=entry.subject, limit=100):
        if other.proposed_at <= entry.proposed_at:
            return None
        if other.state != State.CLOSED:
            return other.id
    return None


def _squashed(
    ws: proposals.Workspace, record: DecisionRecord, entry: stored.ProposalEntry
) -> Revision | None:
    """The watched branch's commit since the proposal's base from which on its file holds
    the proposal's values (a squash or rebase merge), if the branch's head holds them."""
    change = change_of(record)
    history = git.first_parents(ws.local, branch=ws.ref, since=entry.base, name=change.path)
    brought = None
    for revision, data in history:  # newest first: the oldest of the run that holds it
        text = data.decode(errors="replace") if data is not None else None
        if text is None or not yamledit.holds(
            text, path=change.path, index=change.index, edits=change.edits
        ):
            break
        brought = revision
    return brought


def _landed(ws: proposals.Workspace, record: DecisionRecord, by: Revision) -> DecisionRecord:
    now = ws.clock.now()
    note = f"merged into {ws.ref} by {by.author} at {by.sha[:10]}"
    # A fast-forward made by hand leaves the proposal's own commit, whose time is when it
    # was proposed; git keeps no time for a branch moving, so the time it was noticed is
    # taken: the window after landing then holds only what came after it.
    at = now if by.sha == record.context.facts["commit"] else by.committed_at
    marked = replace(
        with_facts(
            record,
            state=State.LANDED.value,
            note=note,
            landedAt=at.isoformat(),
            landedBy="merge",
            landedCommit=by.sha,
        ),
        approver=by.author,
    )
    if record.context.type not in UNSETTLED_AT_LANDING:
        marked = ledger.settled(marked, Outcome.SUCCEEDED, at=now, note=note)
    _save(ws, marked, EventType.DECISION_SETTLED if marked.settled_at else EventType.DECISION_TAKEN)
    reverted = record.context.facts.get("revertOf")
    if reverted:
        _mark_reverted(ws, reverted, by=record.id)
    return marked


def _mark_reverted(ws: proposals.Workspace, original: str, *, by: str) -> None:
    found = ws.store.get_daemon_decision(original)
    if found is None:
        return
    record = ledger.from_entry(found)
    if record.context.facts.get("state") == State.REGRESSED:
        note = f"its revert {by[:12]} was merged"
        _save(ws, with_facts(record, state=State.REVERTED.value, note=note), None)


def _closed(
    ws: proposals.Workspace, record: DecisionRecord, reason: str, outcome: Outcome
) -> DecisionRecord:
    marked = ledger.settled(
        with_facts(record, state=State.CLOSED.value, note=reason, closedReason=reason),
        outcome,
        at=ws.clock.now(),
        note=reason,
    )
    _save(ws, marked, EventType.DECISION_SETTLED)
    return marked


def _save(ws: proposals.Workspace, record: DecisionRecord, event: EventType | None) -> None:
    now: datetime = ws.clock.now()
    lifecycle.save(ws.store, record, at=now)
    if event is not None:
        state = record.context.facts["state"]
        announce(ws.bus, event, record, at=now, message=f"{state}: {record.context.facts['note']}")
