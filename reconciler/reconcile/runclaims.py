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
A replica that dies leaves its claims to expire with its lease. An approval answered on a
replica that does not run the run is forwarded to the one that does, through the store's
work queue (`forward_answer`, taken on that replica's heartbeat by `take_answers`); a
cancel, pause or resume asked of it is refused naming the holder, or the source whose
owner will claim it (`RunHeldElsewhere`), never acted on beside the replica running it. On
SQLite the one daemon owns every source, so it claims everything it queues; a daemon
restarted there under the same name first gives back the claims it made before
(`release`).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from reconciler.clock import Clock
from reconciler.errors import ReconcilerError
from reconciler.run.engine import Engine
from reconciler.runstate import RunRecord
from reconciler.store import queue
from reconciler.store.interfaces import Store, StoreError
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
    claims: RunClaims, engine: Engine, *, targets: Iterable[str] | None = None
) -> list[str]:
    """Claim the runs queued for the sources this replica owns (of `targets`) — new ones,
    and those whose claimer died — and start each in `engine` from its step records; the
    ids started."""
    try:
        claimed = await asyncio.to_thread(claims.claim, targets)
    except StoreError as exc:
        log.error("cannot claim queued runs: %s", exc)
        return []
    started = []
    for queued in claimed:
        if await engine.adopt(queued.run_id):
            log.info("run %s (for source %s) runs here", queued.run_id, queued.target)
            started.append(queued.run_id)
        else:  # it finished before its claimer could drop it from the queue
            await asyncio.to_thread(claims.finish, queued.run_id)
    return started


def queued_id(run_id: str) -> str:
    """The queued run a run belongs to: itself, or the top-level run of a child run
    (whose id is `<parent id>/<step>#<n>`)."""
    return run_id.split("/", 1)[0]


class RunHeldElsewhere(ReconcilerError, PermissionError):
    """A run queued for another replica was asked to be steered here (cancel, pause,
    resume): held by it, or waiting for its source's owner to claim it."""

    def __init__(self, run_id: str, *, queued: QueuedRun) -> None:
        if queued.claimed_by is None:
            where = f"is queued for the owner of source {queued.target}: steer it there"
        else:
            where = (
                f"is held by replica {queued.claimed_by}: steer it there, or once the"
                " source's owner has taken it over"
            )
        super().__init__(f"run {run_id} {where}")
        self.run_id, self.queued = run_id, queued


def queued_entry(store: RunQueue, run_id: str) -> QueuedRun | None:
    """The queue entry of `run_id` (a child run's is its top-level run's), if it is
    queued (blocking: store)."""
    return {q.run_id: q for q in store.queued_runs()}.get(queued_id(run_id))


def held_elsewhere(store: RunQueue, claims: RunClaims, run_id: str) -> str | None:
    """The replica other than this one that holds `run_id`, live or not; None when none
    does (blocking: store)."""
    queued = queued_entry(store, run_id)
    if queued is None or queued.claimed_by in (None, claims.name):
        return None
    return queued.claimed_by


def forward_answer(
    store: Store, claims: RunClaims, *, run_id: str, step: str, answer: dict[str, Any]
) -> str | None:
    """Queue an approval `answer` for the replica that runs `run_id` (blocking: store); its
    name, or None when no other replica holds the run (then it is nobody's to answer)."""
    replica = held_elsewhere(store, claims, run_id)
    if replica is not None:
        payload = {"step": step, **answer}
        store.enqueue(queue.ANSWER, run_id, payload=payload, at=claims.clock.now())
    return replica


async def take_answers(store: Store, engine: Engine) -> int:
    """Answer the approvals other replicas forwarded for the runs live here; how many."""
    live = engine.live()
    if not live:
        return 0
    try:
        found = await asyncio.to_thread(store.take, queue.ANSWER, targets=live)
    except StoreError as exc:
        log.error("cannot take forwarded answers: %s", exc)
        return 0
    for work in found:
        given = work.payload
        try:
            await engine.approve(
                work.target,
                str(given["step"]),
                approver=str(given["approver"]),
                approved=bool(given["approved"]),
                comment=str(given.get("comment") or ""),
                role=given.get("role"),
            )
        except ReconcilerError as exc:  # refused: the approver, or the step has moved on
            log.error("forwarded answer for run %s refused: %s", work.target, exc)
    return len(found)
