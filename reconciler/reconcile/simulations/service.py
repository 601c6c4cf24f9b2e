"""The daemon's simulation service: its queue, which deliveries start a simulation, and
running them on worker threads, at most `simulations.maxConcurrent` at once, never on the
event loop.

A pull or merge request that is opened, reopened or pushed to (`synchronize`) starts a
simulation of base..head for every source whose repository the delivery names (matched by
`hooks.canonical_url`; a local source by its path); other actions start nothing. A newer
delivery for the same pull request supersedes one still queued (it is stored `cancelled`);
one already running finishes. At most `simulations.maxQueued` wait: past that the oldest
waiting one is superseded the same way, so a flood of deliveries costs no more than that.
Simulations a stopped daemon left queued or running are stored `failed` when the next one
starts.

On a store several replicas share, a simulation goes through the store's run queue
(`store.runqueue`, kind `simulation`): `submit` records it queued and queues it for its
source in one transaction, with the job's parameters as the row's payload, and in that
transaction the store applies the same rule (`runqueue.superseded`) to the simulations
waiting unclaimed for the source — the one of the same pull request, then the oldest past
`maxQueued` are stored cancelled and leave the queue (announced here) — so a flood of
deliveries to a replica that does not own the source, or while none does, waits no more
than on one daemon. The replica that owns the source claims it (at once when that is the
replica submitting it, else on its next heartbeat) and admits it to its waiting queue as
above (the rule again, over what it has claimed), and runs it on its workers. A
simulation whose claimer died (its lease expired) is claimed again by the source's new
owner and run again: a simulation is a pure evaluation, safe to repeat. What a claimed
simulation writes is fenced by the claimer's replica lease (`RunClaims.fence`): a replica
whose lease lapsed writes no more of it. `recover` then fails only what no replica can run
any more: a simulation left unfinished with no queue row (a live replica's keeps its row
until its record is final). A replica that stops leaves its waiting simulations queued,
for the next owner.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from reconciler.clock import Clock
from reconciler.events import Bus
from reconciler.reconcile.deliveries import Delivery, Forge, Kind, canonical_url
from reconciler.reconcile.runclaims import RunClaims
from reconciler.reconcile.settings import DaemonSettings, DaemonSource, UnknownSource
from reconciler.reconcile.simulations import runs
from reconciler.reconcile.simulations.runs import Context, Job
from reconciler.store import runqueue
from reconciler.store.interfaces import SimulationStatus, Store, StoreError
from reconciler.store.runqueue import QueuedRun

log = logging.getLogger(__name__)
ACTIONS = frozenset({"opened", "synchronize", "reopened"})
HEAD_REFS = {Forge.GITHUB: "refs/pull/{n}/head", Forge.GITLAB: "refs/merge-requests/{n}/head"}
INTERRUPTED = "interrupted: the daemon stopped before this simulation finished"
UNFINISHED = (SimulationStatus.QUEUED, SimulationStatus.RUNNING)
STOPPED = "not run: the daemon stopped first"


def location(source: DaemonSource) -> str:
    """The source's repository as `canonical_url` writes delivery URLs."""
    return canonical_url(source.url if source.url is not None else str(source.path))


def jobs_for(delivery: Delivery, sources: list[DaemonSource]) -> list[Job]:
    """The simulations a verified delivery asks for (none for most deliveries)."""
    if (
        delivery.kind is not Kind.PULL_REQUEST
        or delivery.action not in ACTIONS
        or delivery.number is None
        or delivery.forge not in HEAD_REFS
    ):
        return []
    urls = {canonical_url(u) for u in delivery.repo_urls}
    pr_ref = HEAD_REFS[delivery.forge].format(n=delivery.number)
    head_refs = tuple(r for r in (pr_ref, delivery.ref) if r and r != "refs/heads/None")
    base_ref = delivery.base_ref if delivery.base_ref != "refs/heads/None" else None
    return [
        Job(
            id=str(uuid.uuid4()),
            source=source,
            forge=delivery.forge.value,
            number=delivery.number,
            base=delivery.base_sha or base_ref or "",
            head=delivery.sha or pr_ref,
            base_ref=base_ref,
            head_refs=head_refs,
            forge_repo=delivery.forge_repo,
            trigger=f"webhook:{delivery.forge.value}",
        )
        for source in sources
        if location(source) in urls
    ]


def admit(queue: collections.deque[Job], job: Job, *, most: int) -> list[tuple[Job, str]]:
    """Append `job` to the waiting `queue`; the jobs it pushed out, each with why, by the
    rule the store's queue applies too (`runqueue.superseded`): a queued job of the same
    pull request, then the oldest while more than `most` wait."""
    waiting = {j.id: j for j in queue}
    pushed = runqueue.superseded([(j.id, j.key) for j in queue], new=(job.id, job.key), most=most)
    gone = {sim_id for sim_id, _ in pushed}
    kept = [j for j in queue if j.id not in gone]
    queue.clear()
    queue.extend(kept)
    queue.append(job)
    return [(waiting[sim_id], why) for sim_id, why in pushed]


def payload(job: Job) -> dict[str, Any]:
    """What a replica claiming `job` from the store's queue needs to rebuild it (beside its
    id and source, which the queue row carries)."""
    return {
        "forge": job.forge,
        "number": job.number,
        "base": job.base,
        "head": job.head,
        "baseRef": job.base_ref,
        "headRefs": list(job.head_refs),
        "forgeRepo": job.forge_repo,
        "trigger": job.trigger,
    }


def job_of(queued: QueuedRun, source: DaemonSource) -> Job:
    """The job a queue row of `payload(job)` stands for."""
    given = queued.payload or {}
    return Job(
        id=queued.run_id,
        source=source,
        forge=str(given["forge"]),
        number=given.get("number"),
        base=str(given["base"]),
        head=str(given["head"]),
        base_ref=given.get("baseRef"),
        head_refs=tuple(given.get("headRefs") or ()),
        forge_repo=given.get("forgeRepo"),
        trigger=str(given.get("trigger") or "api"),
    )


class Simulator:
    """Queues simulations and runs them on its own worker threads. The daemon builds it,
    `recover`s it when it starts, has it `claim` on each heartbeat and `close`s it when it
    stops; the API hands it deliveries and requests and reads what it stored."""

    def __init__(
        self,
        context: Context,
        *,
        sources: Sequence[DaemonSource],
        claims: RunClaims | None = None,
    ) -> None:
        """`claims`: on a store other replicas share, this replica's claims of queued
        simulations (see the module docstring); None runs every simulation here."""
        self._context = context
        self._claims = claims
        # What a claimed simulation writes is fenced by the claim: a replica whose lease
        # lapsed writes no more of it (the source's new owner runs it again).
        self._running = (
            context
            if claims is None
            else dataclasses.replace(context, store=context.store.fenced(claims.fence))
        )
        self._sources = {s.name: s for s in sources}
        self._limit = context.limits.max_concurrent
        self._most = context.limits.max_queued
        self._ready = threading.Condition()
        self._queue: collections.deque[Job] = collections.deque()
        self._workers: list[threading.Thread] = []
        self._closed = False
        self.running: set[str] = set()

    @classmethod
    def of(
        cls,
        settings: DaemonSettings,
        *,
        store: Store,
        clock: Clock,
        bus: Bus,
        claims: RunClaims | None,
    ) -> Simulator:
        """The daemon's service: its sources, data directory, simulation and forge
        settings, recording into `store` and announcing on `bus`."""
        context = Context(
            store=store,
            clock=clock,
            bus=bus,
            data_dir=settings.data_dir,
            limits=settings.simulations,
            forges=settings.forges,
        )
        return cls(context, sources=settings.sources, claims=claims)

    @property
    def context(self) -> Context:
        """What the service's simulations record into and announce on."""
        return self._context

    def on_delivery(self, delivery: Delivery) -> list[str]:
        """Queue what a delivery asks for; returns the simulation ids (blocking: store)."""
        return [self.submit(job) for job in jobs_for(delivery, list(self._sources.values()))]

    def start(self, *, source: str, base: str, head: str) -> str:
        """A simulation started by hand; `UnknownSource` for a source not configured."""
        if source not in self._sources:
            raise UnknownSource(source, self._sources)
        config = self._sources[source]
        return self.submit(
            Job(id=str(uuid.uuid4()), source=config, forge="api", base=base, head=head)
        )

    def submit(self, job: Job) -> str:
        """Record `job` queued and queue it, cancelling what it supersedes (blocking:
        store); its id."""
        if self._claims is None:
            with self._ready:  # stored and queued at once: `recover` sees both or neither
                runs.queued(job, context=self._context)
                self._admit(job)
            return job.id
        record, run = runs.queued_records(job, at=self._context.clock.now())
        pushed = self._context.store.enqueue_simulation(
            record,
            run=run,
            target=job.source.name,
            payload=payload(job),
            at=record.created_at,
            most=self._most,
        )
        for old in pushed:  # stored cancelled with the new one's queueing
            runs.announce(old, context=self._context)
        self.claim([job.source.name])  # at once when this replica owns the source
        return job.id

    def claim(self, targets: Iterable[str] | None = None) -> list[str]:
        """Claim the simulations queued for the sources this replica owns (of `targets`),
        new ones and those whose claimer died, and admit them to the waiting queue; their
        ids (blocking: store). Claims nothing when every simulation runs here."""
        if self._claims is None or self._closed:
            return []
        try:
            claimed = self._claims.claim(targets)
        except StoreError as exc:
            log.error("cannot claim queued simulations: %s", exc)
            return []
        taken = []
        for queued in claimed:
            record = self._context.store.get_simulation(queued.run_id)
            source = self._sources.get(queued.target)
            if record is None or record.status not in UNFINISHED or source is None:
                self._claims.finish(queued.run_id)  # its claimer died before dropping it
                continue
            with self._ready:
                if queued.run_id in self.running or any(j.id == queued.run_id for j in self._queue):
                    continue
            self._admit(job_of(queued, source))
            taken.append(queued.run_id)
        return taken

    def _admit(self, job: Job) -> None:
        """Put `job` in the waiting queue (with a worker for it), cancelling what it
        supersedes."""
        with self._ready:
            superseded = admit(self._queue, job, most=self._most)
            if len(self._workers) < self._limit:
                self._spawn()
            self._ready.notify()
        for old, reason in superseded:
            self._cancel(old, reason=reason)

    def recover(self) -> None:
        """Mark simulations a stopped daemon left unfinished as failed (blocking: store);
        the ones this service has queued or is running since it was built are its own, and
        on a shared store so is every simulation still in the queue (a live replica's, or
        one the next claim runs again). A previous process under this replica's name gives
        its claims back first: its simulations run again here or on the new owner."""
        store, now = self._context.store, self._context.clock.now()
        if self._claims is not None:
            self._claims.release()
        with self._ready:
            left = [
                record
                for status in UNFINISHED
                for record in store.list_simulations(status=status, limit=10_000)
                if record.id not in self.running and all(j.id != record.id for j in self._queue)
            ]
        if self._claims is not None and left:
            # Read after the records: a row is dropped only once its record is final.
            queued = {q.run_id for q in store.queued_runs(kind=self._claims.kind)}
            again = (store.get_simulation(r.id) for r in left if r.id not in queued)
            left = [r for r in again if r is not None and r.status in UNFINISHED]
        for record in left:
            failed = dataclasses.replace(
                record, status=SimulationStatus.FAILED, summary=INTERRUPTED, finished_at=now
            )
            runs.finish(failed, context=self._context)

    def close(self, *, wait: float = 0.0) -> None:
        """Run nothing more. Waiting simulations are stored cancelled — on a shared store
        they stay queued instead, for the source's next owner. Running ones finish on their
        own threads (bounded by `simulations.wallSeconds`); `wait`: at most how many seconds
        to wait for them (before the store they record into is closed)."""
        with self._ready:
            self._closed = True
            left = list(self._queue)
            self._queue.clear()
            self._ready.notify_all()
        if self._claims is None:
            for job in left:
                self._cancel(job, reason=STOPPED)
        deadline = time.monotonic() + wait  # threads end in real time, whatever the clock
        for worker in list(self._workers):
            worker.join(max(0.0, deadline - time.monotonic()))

    def _spawn(self) -> None:
        worker = threading.Thread(
            target=self._work, name=f"simulation-{len(self._workers)}", daemon=True
        )
        self._workers.append(worker)
        worker.start()

    def _work(self) -> None:
        while True:
            with self._ready:
                while not self._queue and not self._closed:
                    self._ready.wait()
                if self._closed:
                    return
                job = self._queue.popleft()
                self.running.add(job.id)
            try:
                runs.execute(job, context=self._running)
                self._finished(job)
            except Exception:  # the store itself failed (closed, disk full): keep serving
                log.exception("simulation %s could not be recorded", job.id)
            finally:
                with self._ready:
                    self.running.discard(job.id)

    def _finished(self, job: Job) -> None:
        """A simulation's record is final: it leaves the store's queue."""
        if self._claims is not None:
            self._claims.finish(job.id)

    def _cancel(self, job: Job, *, reason: str) -> None:
        try:
            record = self._context.store.get_simulation(job.id)
            if record is None:
                return
            runs.finish(
                dataclasses.replace(
                    record,
                    status=SimulationStatus.CANCELLED,
                    summary=reason,
                    finished_at=self._context.clock.now(),
                ),
                context=self._context,
            )
            self._finished(job)
        except Exception:
            log.exception("simulation %s could not be cancelled", job.id)
