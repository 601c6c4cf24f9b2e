"""Where each optimization proposal stands, and the bindings each run flagged.

A proposal is a daemon decision (`daemon_decisions`) whose record holds the change, its
simulation and explanation; this role keeps beside it the proposal's lifecycle, indexed:
proposed (or blocked) on its branch → landed (by the daemon, or by a human's merge, at
which commit and when) → kept | regressed | reverted; or proposed → closed (its branch
deleted, or superseded by a newer proposal of the same subject). A run's flagged policy
bindings (rules that never fired: a report, no change) are kept with the run and go when
retention prunes it. `sql.proposals` holds the tables and queries; both tables are
created by migration 6 (`sql.migrations`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

OPEN = ("proposed", "blocked")
"""States of a proposal still on its branch: landing or closing is looked for."""


@dataclass(frozen=True, kw_only=True)
class ProposalEntry:
    """One proposal's lifecycle; `id` is its decision's."""

    id: str
    type: str
    subject: str
    branch: str
    commit: str  # the proposal's commit on `branch`
    base: str  # the watched branch's commit it was made on
    state: str
    proposed_at: datetime
    updated_at: datetime
    landed_by: str | None = None  # "daemon" (fast-forward) or "merge" (a human's)
    landed_commit: str | None = None  # the watched branch's commit that brought it
    landed_at: datetime | None = None
    closed_reason: str | None = None


class Proposals(Protocol):
    """The store's role for proposals' lifecycles and runs' flagged bindings."""

    def put_proposal(self, entry: ProposalEntry) -> None:
        """Insert the proposal, or replace the one with the same id."""
        ...

    def get_proposal(self, proposal_id: str) -> ProposalEntry | None: ...

    def proposals(
        self,
        *,
        states: Sequence[str] | None = None,
        type: str | None = None,
        subject: str | None = None,
        limit: int = 100,
    ) -> list[ProposalEntry]:
        """Newest proposed first, filtered by any of the given fields."""
        ...

    def put_flagged(self, run_id: str, notes: Sequence[str]) -> None:
        """Keep `notes` as the bindings the run `run_id` flagged (replacing any); the run
        must exist (`RunNotFound` otherwise)."""
        ...

    def flagged(self, run_id: str) -> list[str]:
        """The bindings the run `run_id` flagged, in the order given; empty for none."""
        ...
