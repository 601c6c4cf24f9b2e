"""Work queued in the store and claimed by one replica at a time, tied to its lease.

Four kinds of work go through the one queue, each a run record the claimer finds by id:
workflow, runbook and remediation runs (`RUN`), pull-request simulations (`SIMULATION`,
whose record is stored beside the run and whose job's parameters travel in the row's
`payload`) and optimization runs (`OPTIMIZATION`). Work is recorded and queued in one
transaction, for a `target`: the source whose revision defines it. A replica claims the
queued work of one kind for the sources it owns: `claim` reads the rows `FOR UPDATE SKIP
LOCKED`, so two claimers never take the same one, and stamps each with the claimer's name
and the fencing token of its `replica:<name>` lease. A claim stays valid while that lease
is live and carries that token: the work is the claimer's until it `finish`es it. When the
claimer dies (kill -9, a partition), its lease expires and the next `claim` by the
source's new owner takes the work over — a run resumes from its step records, a
simulation (a pure evaluation) runs again. A claimer whose own lease lapsed claims nothing
(`LeaseLost`). `cancel_unclaimed` cancels work nobody has claimed yet where it lies, so
no claimer ever starts it. `release` gives a replica's claims of one kind back at once (a
clean stop; a daemon restarting under the name it had, on SQLite). `enqueue_once` queues
a scheduled run once across replicas that all find it due. On SQLite the one daemon
claims everything it queues. `sql.runqueue` holds the table.

Simulations are untrusted input (any pull request can ask for one), so what waits of them
is bounded where they are queued, by one rule (`superseded`) that the simulation service's
in-process queue applies too: a new simulation supersedes the ones of the same pull request
still waiting, then the oldest waiting while more than `most` would wait. In the store,
"waiting" is queued for the same source and claimed by nobody; `enqueue_simulation` with
`most` applies the rule in the transaction that queues the new one, storing what it
pushes out `cancelled` with the reason and dropping their rows, so however many replicas
take deliveries, and whether or not any owns the source, at most `most` simulations of a
source wait unclaimed. Claimed ones are the claimer's: its own queue bounds them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from reconciler.runstate import RunKind, RunRecord

if TYPE_CHECKING:  # `interfaces` composes this role into `Store`
    from reconciler.store.interfaces import SimulationRecord

RUN = "run"
"""A workflow, runbook or remediation run."""
SIMULATION = RunKind.SIMULATION.value
"""A pull-request simulation; its job's parameters are the row's payload."""
OPTIMIZATION = RunKind.OPTIMIZATION.value
"""An optimization run of a source."""
SUPERSEDED_BY = "superseded by simulation {id}"
"""Why a waiting simulation was cancelled: a newer one of the same pull request came."""
CROWDED = "superseded: more than {most} simulations waiting"
"""Why a waiting simulation was cancelled: it was the oldest of more than `most`."""

PullRequest = tuple[str, str, int]
"""(source, forge, number): simulations with the same one supersede each other."""


def pull_request(*, source: str, forge: str, number: int | None) -> PullRequest | None:
    """The identity by which simulations supersede each other; None for one without a pull
    request (started by hand), which supersedes none."""
    return None if number is None else (source, forge, number)


def superseded(
    waiting: Sequence[tuple[str, PullRequest | None]],
    *,
    new: tuple[str, PullRequest | None],
    most: int,
) -> list[tuple[str, str]]:
    """The one bound on waiting simulations. Of `waiting` (id and pull request, oldest
    first), those that give way when `new` joins them, each with why: the ones of `new`'s
    pull request, then the oldest while more than `most` (at least 1) would wait. `new`
    itself always waits."""
    if most < 1:
        raise ValueError(f"most: {most} would not let the new simulation wait")
    new_id, key = new
    same = {i for i, k in waiting if key is not None and k == key}
    out = [(i, SUPERSEDED_BY.format(id=new_id)) for i, _ in waiting if i in same]
    left = [i for i, _ in waiting if i not in same]
    over = len(left) + 1 - most
    return out + [(i, CROWDED.format(most=most)) for i in left[: max(0, over)]]


@dataclass(frozen=True, kw_only=True)
class QueuedRun:
    run_id: str
    target: str
    queued_at: datetime
    kind: str = RUN
    payload: dict[str, Any] | None = None
    claimed_by: str | None = None
    claim_token: int | None = None
    claimed_at: datetime | None = None


class RunQueue(Protocol):
    """The store's role for queued work (see the module docstring)."""

    def enqueue_run(self, run: RunRecord, *, target: str, at: datetime, kind: str = RUN) -> None:
        """Record `run` (with the steps it carries) and queue it for `target`, at once."""
        ...

    def enqueue_once(
        self, run: RunRecord, *, target: str, at: datetime, since: datetime | None = None
    ) -> bool:
        """Record and queue `run` (kind `run.kind`) for `target` unless work of that kind
        is queued for `target` already or (with `since`) a run of that kind and name started
        at or after `since`; whether it was queued. Serialised across writers, so replicas that find
        the same run due queue it once."""
        ...

    def enqueue_simulation(
        self,
        simulation: SimulationRecord,
        *,
        run: RunRecord,
        target: str,
        payload: dict[str, Any],
        at: datetime,
        most: int | None = None,
    ) -> list[SimulationRecord]:
        """Record a queued simulation and its run, and queue it for `target` with its job's
        `payload`, in one transaction. With `most`, the same transaction bounds what waits
        for `target` (`superseded`, over the unclaimed, unfinished simulations queued for
        it): each one pushed out is stored `cancelled` with why, at `at`, its run cancelled
        too, and its row dropped; returns those records, as stored. Serialised across
        writers, so submitters racing on one source never leave more than `most` waiting;
        a claim racing with it either takes a row first (which then is left alone) or
        skips the ones being cancelled."""
        ...

    def claim_runs(
        self,
        holder: str,
        *,
        token: int,
        targets: Iterable[str],
        now: datetime,
        limit: int = 100,
        kind: str = RUN,
    ) -> list[QueuedRun]:
        """Claim, oldest first, the work of `kind` queued for `targets` that nobody holds:
        unclaimed, or claimed by a replica whose lease expired or changed hands since.
        Raises `leases.LeaseLost` unless `holder`'s own replica lease is live with `token`."""
        ...

    def finish_run(self, run_id: str, holder: str, *, token: int) -> bool:
        """Drop finished work from the queue; False when the claim was not ours any more."""
        ...

    def release_runs(self, holder: str, *, kind: str = RUN) -> int:
        """Give back every claim of `kind` `holder` made; how many."""
        ...

    def cancel_unclaimed(self, run_id: str, *, at: datetime) -> RunRecord | None:
        """Record the run `run_id` cancelled at `at` and drop it from the queue, in one
        transaction, if it is queued as a run (kind `RUN`: a workflow, runbook or remediation
        run) and claimed by nobody; the cancelled run, or None when it is not (not queued,
        other work such as a simulation, whose record its run does not close, or a claimer
        holds it or is taking it this instant)."""
        ...

    def queued_runs(self, *, kind: str | None = None) -> list[QueuedRun]:
        """Every queued piece of work (of `kind`), claimed or not, oldest first."""
        ...

    def queued_run(self, run_id: str) -> QueuedRun | None:
        """The queued work `run_id`, claimed or not; None when it is not queued."""
        ...
