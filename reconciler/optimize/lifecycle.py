"""Saving a proposal: its decision (the record with the change, simulation, explanation
and state) and the proposal's lifecycle row beside it (`store.proposals`), which indexes
the state, where it landed and why it closed, so the open proposals are found without
reading every decision. Every write of a proposal's decision goes through `save`, so the
two never tell different stories."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from reconciler.decide import ledger
from reconciler.decide.records import DecisionRecord
from reconciler.store.daemon_decisions import DaemonDecisions
from reconciler.store.proposals import ProposalEntry, Proposals


class ProposalStore(DaemonDecisions, Proposals, Protocol):
    """What saving a proposal writes to."""


def save(store: ProposalStore, record: DecisionRecord, *, at: datetime) -> None:
    """Keep `record` and its lifecycle row as of `at`."""
    store.put_daemon_decision(ledger.to_entry(record))
    store.put_proposal(entry_of(record, at=at))


def entry_of(record: DecisionRecord, *, at: datetime) -> ProposalEntry:
    """The lifecycle row of a proposal's decision, updated at `at`."""
    facts = record.context.facts
    landed = facts.get("landedAt")
    return ProposalEntry(
        id=record.id,
        type=record.context.type,
        subject=record.context.subject,
        branch=facts["branch"],
        commit=facts["commit"],
        base=facts["base"],
        state=facts["state"],
        proposed_at=datetime.fromisoformat(record.at),
        updated_at=at,
        landed_by=facts.get("landedBy"),
        landed_commit=facts.get("landedCommit"),
        landed_at=datetime.fromisoformat(landed) if landed else None,
        closed_reason=facts.get("closedReason"),
    )
