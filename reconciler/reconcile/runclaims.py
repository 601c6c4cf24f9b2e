"""This replica's side of the run queue: which runs it holds, under which token.

One `RunClaims` per kind of queued work (`store.runqueue`): the workflow automation's runs,
the simulation service's simulations, the scheduled optimization runs; each claims and
gives back its own kind only.

Workflow, runbook and remediation runs are queued in the store (`store.runqueue`) for the
source whose revision defines them, and run by the replica that owns that source: its
catalog holds the source's workflows and runbooks and its worker the policies a run's
steps evaluate, so the owner is the one replica that can run them. `RunClaims` claims
under the fencing token this replica's own lease had when it took its first run; the
engine writes runs through `store.fenced(claims.fence)`, so once that lease lapses (a
pause past the lease ttl, a partition) the replica writes nothing more to any run and
claims no new one — the sources' new owners take its runs over — until it restarts.
A replica that dies leaves its claims to expire with its lease.

Any replica may be asked to act on any run. An answer to an approval, a cancel, a pause or
a resume of a run another replica holds is forwarded to it (`forward`, `steer`) through
the store's work queue, and that replica applies it on its heartbeat (`runactions`); one
whose holder died before taking it is taken by the run's next claimer before it starts the
run again (`start_claimed`), and one for a run nobody has claimed yet by whichever replica
claims it. A cancel of a run nobody has claimed is done in the store at once
(`RunQueue.cancel_unclaimed`), so no replica starts it; a run that has finished is not
steered (`runactions.RunFinished`). On SQLite the one daemon owns every source, so it
claims everything it queues; a daemon restarted there under the same name first gives
back the claims it made before (`release`).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.clock import Clock
from reconciler.reconcile import runactions
from reconciler.run.engine import Engine
from reconciler.runstate import FINISHED, RunRecord
from reconciler.store import queue
from reconciler.store.interfaces import RunNotFound, Store, StoreError
from reconciler.store.leases import Fence, LeaseLost
from reconciler.store.runqueue import RUN, QueuedRun, RunQueue

log = logging.getLogger(__name__)


class RunClaims:
    """Claims of queued runs for replica `name` (see the module docstring)."""

    def __init__(
        self,
        *,
        name: str,
        store: RunQueue,
        clock: Clock,
        own_fence: Callable[[], Fence | None],
        owned: Callable[[], Iterable[str]],
        kind: str = RUN,
    ) -> None:
        """`own_fence()`: this replica's lease as the heartbeat last took it; `owned()`:
        the sources this replica owns now; `kind`: the queued work these claims are of."""
        self.name, self.store, self.clock, self.kind = name, store, clock, kind
        self._own_fence, self._owned = own_fence, owned
        self._fence: Fence | None = None
        self._lock = threading.Lock()

    def fence(self) -> Fence | None:
        """The fence every run write carries: the replica lease of the first claim."""
        with self._lock:
            if self._fence is None:
                self._fence = self._own_fence()
            return self._fence

    def queue(self, run: RunRecord, *, target: str) -> None:
        """Record `run` and queue it for the owner of source `target`."""
        self.store.enqueue_run(run, target=target, at=self.clock.now(), kind=self.kind)

    def owns(self, target: str) -> bool:
        """Whether this replica owns source `target` now."""
        return target in set(self._owned())

    def claim(self, targets: Iterable[str] | None = None) -> list[QueuedRun]:
        """Claim the free work queued for the sources this replica owns (of `targets`)."""
        owned = set(self._owned())
        chosen = owned if targets is None else owned & set(targets)
        fence = self.fence()
        if fence is None or not chosen:
            return []
        try:
            return self.store.claim_runs(
                self.name, token=fence.token, targets=chosen, now=self.clock.now(), kind=self.kind
            )
        except LeaseLost as exc:
            log.error(
                "replica %s claims no more %ss until it restarts: %s", self.name, self.kind, exc
            )
            return []

    def finish(self, run_id: str) -> None:
        """The run finished here: it leaves the queue."""
        fence = self.fence()
        if fence is not None and not self.store.finish_run(run_id, self.name, token=fence.token):
            log.warning("%s %s finished after another replica took it over", self.kind, run_id)

    def release(self) -> int:
        """Give back this replica name's claims (a clean stop, or a restart under it)."""
        return self.store.release_runs(self.name, kind=self.kind)


async def start_claimed(
    claims: RunClaims,
    engine: Engine,
    *,
    store: Store,
    targets: Iterable[str] | None = None,
    ended: runactions.Ended | None = None,
) -> list[str]:
    """Claim the runs queued for the sources this replica owns (of `targets`) — new ones,
    and those whose claimer died — and start each in `engine` from its step records, after
    the actions forwarded for it meanwhile (`runactions.start`; a run a forwarded cancel
    closes is handed to `ended`); the ids started."""
    try:
        claimed = await asyncio.to_thread(claims.claim, targets)
    except StoreError as exc:
        log.error("cannot claim queued runs: %s", exc)
        return []
    taken = await runactions.take_for(store, [q.run_id for q in claimed])
    started = []
    for queued in claimed:
        if await runactions.start(engine, queued.run_id, taken=taken, ended=ended):
            log.info("run %s (for source %s) runs here", queued.run_id, queued.target)
            started.append(queued.run_id)
        else:  # finished before its claimer could drop it from the queue, or cancelled
            await asyncio.to_thread(claims.finish, queued.run_id)
    return started


def queued_id(run_id: str) -> str:
    """The queued run a run belongs to: itself, or the top-level run of a child run
    (whose id is `<parent id>/<step>#<n>`)."""
    return run_id.split("/", 1)[0]


def queued_entry(store: RunQueue, run_id: str) -> QueuedRun | None:
    """The queue entry of `run_id` (a child run's is its top-level run's), if it is
    queued (blocking: store)."""
    return store.queued_run(queued_id(run_id))


SOURCE = "source:"
"""What `forward` names the destination of an action on a run nobody has claimed yet by:
`source:<name>`, the source whose owner will claim it."""


@dataclass(frozen=True, kw_only=True)
class Steered:
    """Where a cancel, pause or resume of a run not live here went: `forwarded_to` a
    replica, or `source:<name>`; None when it was done in the store (a cancel of a run
    nobody had claimed), and then `cancelled` is the run as the store closed it, for its
    outcome to be published (`Automation.ended`)."""

    forwarded_to: str | None
    cancelled: RunRecord | None = None


def forward(
    store: Store,
    claims: RunClaims,
    *,
    run_id: str,
    action: str,
    given: Mapping[str, Any] | None = None,
) -> str | None:
    """Queue `action` on `run_id` (with `given`: an answer) for the replica that acts on it
    (blocking: store): the replica holding the run, live or not (a dead one's claim passes
    to the next claimer, who takes it), or the owner of its source once that claims it.
    Where it went — the holder's name, or `source:<name>` — or None when the run is not
    queued for another replica (then it is this replica's to act on)."""
    queued = queued_entry(store, run_id)
    if queued is None or queued.claimed_by == claims.name:
        return None
    at = claims.clock.now()
    store.enqueue(queue.RUN_ACTION, run_id, payload=runactions.payload(action, given), at=at)
    return queued.claimed_by or SOURCE + queued.target


def steer(store: Store, claims: RunClaims, *, run_id: str, action: str) -> Steered | None:
    """A cancel, pause or resume of `run_id`, a run not live here (blocking: store):
    refused when the run does not exist (`RunNotFound`) or has finished
    (`runactions.RunFinished`); a top-level run queued that nobody has claimed is cancelled
    where it lies, in one transaction, so no replica ever starts it; anything else queued
    for another replica is forwarded (`forward`). None: the run is this replica's to act on."""
    run = store.get_run(run_id)
    if run is None:
        raise RunNotFound(run_id)
    if run.status in FINISHED:
        raise runactions.RunFinished(run_id, status=run.status, action=action)
    now = claims.clock.now()
    unclaimed = action == runactions.CANCEL and queued_id(run_id) == run_id
    cancelled = store.cancel_unclaimed(run_id, at=now) if unclaimed else None
    if cancelled is not None:
        log.info("run %s cancelled before any replica claimed it", run_id)
        return Steered(forwarded_to=None, cancelled=cancelled)
    where = forward(store, claims, run_id=run_id, action=action)
    return None if where is None else Steered(forwarded_to=where)
