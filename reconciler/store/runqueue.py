"""Runs queued in the store and claimed by one replica at a time, tied to its lease.

A workflow, runbook or remediation run the daemon starts is recorded (pending, with its
plan) and queued in one transaction, for a `target`: the source whose revision defines
what it runs. A replica claims the queued runs of the sources it owns: `claim` reads them
`FOR UPDATE SKIP LOCKED`, so two claimers never take the same run, and stamps each with the
claimer's name and the fencing token of its `replica:<name>` lease. A claim stays valid
while that lease is live and carries that token: the run is the claimer's until it
`finish`es it. When the claimer dies (kill -9, a partition), its lease expires and the next
`claim` by the source's new owner takes the run over — the new owner resumes it from its
step records. A claimer whose own lease lapsed claims nothing (`LeaseLost`). `release`
gives a replica's claims back at once (a clean stop; a daemon restarting under the name it
had, on SQLite). On SQLite the one daemon claims everything it queues.
`sql.runqueue` holds the table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from reconciler.runstate import RunRecord


@dataclass(frozen=True, kw_only=True)
class QueuedRun:
    run_id: str
    target: str
    queued_at: datetime
    claimed_by: str | None = None
    claim_token: int | None = None
    claimed_at: datetime | None = None


class RunQueue(Protocol):
    """The store's role for queued runs (see the module docstring)."""

    def enqueue_run(self, run: RunRecord, *, target: str, at: datetime) -> None:
        """Record `run` (with the steps it carries) and queue it for `target`, at once."""
        ...

    def claim_runs(
        self, holder: str, *, token: int, targets: Iterable[str], now: datetime, limit: int = 100
    ) -> list[QueuedRun]:
        """Claim, oldest first, the runs queued for `targets` that nobody holds: unclaimed,
        or claimed by a replica whose lease expired or changed hands since. Raises
        `leases.LeaseLost` unless `holder`'s own replica lease is live with `token`."""
        ...

    def finish_run(self, run_id: str, holder: str, *, token: int) -> bool:
        """Drop a finished run from the queue; False when the claim was not ours any more."""
        ...

    def release_runs(self, holder: str) -> int:
        """Give back every claim `holder` made; how many."""
        ...

    def queued_runs(self) -> list[QueuedRun]:
        """Every queued run, claimed or not, oldest first."""
        ...
