"""The daemon: every source's runner, the scheduler, the store and the event bus, on one
asyncio loop. `Daemon.run` returns when `stop` is set, after in-flight reconciles finish.

Triggers: start-up; new commits (watchfiles on a local repository's refs); the source's
interval (polling a remote, and drift correction for every source); webhooks and on-demand
syncs through `request_sync`; the audit interval re-evaluates policies over observed state.
Both intervals are the source's effective settings (`effective.py`: flag > settings file >
the served revision's `reconciler.yaml` > default), rescheduled when a revision changes
them. What the passes decide is logged by the `eventlog` subscriber of the bus. Pull-request
simulations run in the daemon's simulation service (`simulations/`), which `run` recovers
when it starts and closes when it stops; on a shared store they are queued in the store
and claimed, on each heartbeat, by the owner of their source, like workflow runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from reconciler.clock import Clock
from reconciler.errors import ReconcilerError
from reconciler.events import Bus, Event, EventType
from reconciler.notify.notifier import Notifier
from reconciler.notify.sender import Sender
from reconciler.policy.pool import EvaluationPool
from reconciler.reconcile import eventlog, replicas
from reconciler.reconcile.automation import Automation
from reconciler.reconcile.runclaims import RunClaims
from reconciler.reconcile.runner import SourceRunner
from reconciler.reconcile.settings import NO_FLAGS, DaemonSettings, Flags, UnknownSource
from reconciler.reconcile.simulations.service import Simulator
from reconciler.run import orphans
from reconciler.run.scheduling import Scheduler
from reconciler.source import watch
from reconciler.specs.types import seconds, timedelta_of
from reconciler.store import anchors, leases, queue, runqueue
from reconciler.store.backends import open_store
from reconciler.store.interfaces import EventRecord, Store, StoreError

log = logging.getLogger(__name__)
FILES_DIR = "files"  # under the data directory: where relative File paths resolve
PROGRAMS_DIR = "programs"  # under the data directory: each source's served provider programs


class Daemon:
    def __init__(
        self,
        settings: DaemonSettings,
        *,
        clock: Clock,
        store: Store | None = None,
        flags: Flags = NO_FLAGS,
    ) -> None:
        self.settings, self.clock = settings, clock
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = store or open_store(
            settings.store.resolved_url(),
            data_dir=settings.data_dir,
            retention=settings.retention,
        )
        self._shared = settings.store.resolved_url() is not None  # other replicas may share it
        self.bus = Bus()
        self.bus.subscribe(self._record_event)
        self.bus.subscribe(eventlog.subscriber)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._outbox_changed = asyncio.Event()
        self.notifier = Notifier(
            settings.notifications, store=self.store, clock=clock, wake=self._wake_sender
        )
        self.sender = Sender(settings.notifications, store=self.store, clock=clock)
        self.bus.subscribe(self.notifier.on_event)
        self.scheduler = Scheduler()
        self._pool = ThreadPoolExecutor(
            settings.reconcile.provider_concurrency, thread_name_prefix="provider"
        )
        self.host = socket.gethostname()
        workers = settings.reconcile.evaluation_workers
        # Started at the first large evaluation; every source's passes share it.
        self.evaluations = EvaluationPool(workers=workers) if workers > 1 else None
        # Leases are stamped and expire by the database's clock on a shared store.
        self.lease_clock = leases.LeaseClock(self.store, fallback=clock)
        self.membership = replicas.Membership(
            name=settings.replica.name or self._default_replica_name(),
            ttl=timedelta_of(settings.replica.lease_ttl),
            store=self.store,
            clock=self.lease_clock,
            sources=[s.name for s in settings.sources],
            busy=lambda name: self.runners[name].state.reconciling,
        )
        self.children = orphans.StoreLedger(
            self.store, clock=clock, host=self.host, replica=self.membership.name
        )
        self._takeover: asyncio.Task[None] | None = None
        self.runners = {
            s.name: SourceRunner(
                s,
                store=self.store,
                bus=self.bus,
                clock=clock,
                settings=settings.reconcile,
                pool=self._pool,
                files_dir=settings.data_dir / FILES_DIR,
                programs_dir=settings.data_dir / PROGRAMS_DIR / s.name,
                providers=settings.providers,
                flags=flags,
                children=self.children,
                lease=self.membership.lease_of(s.name),
                evaluations=self.evaluations,
            )
            for s in settings.sources
        }
        for runner in self.runners.values():
            runner.on_effective = self._schedule_source
        self.simulations = Simulator.of(
            settings,
            store=self.store,
            clock=clock,
            bus=self.bus,
            claims=self.claims(runqueue.SIMULATION) if self._shared else None,
        )
        self.workflows = Automation(
            store=self.store,
            clock=clock,
            bus=self.bus,
            scheduler=self.scheduler,
            runners=self.runners,
            request_sync=self._sync_for_run,
            prometheus=settings.prometheus,
            claims=self.claims(runqueue.RUN),
            shared=self._shared,
            on_run_event=self.notifier.on_record,
            children=self.children,
        )

    def claims(self, kind: str) -> RunClaims:
        """This replica's claims of the queued work of `kind` (`store.runqueue`)."""
        membership = self.membership
        return RunClaims(
            name=membership.name,
            store=self.store,
            clock=self.lease_clock,
            own_fence=membership.own_fence,
            owned=membership.held,
            kind=kind,
        )

    def runner(self, name: str) -> SourceRunner:
        if name not in self.runners:
            raise UnknownSource(name, self.runners)
        return self.runners[name]

    def request_sync(self, name: str | None = None, *, reason: str = "manual") -> list[str]:
        """Trigger a reconcile of one source, or of all; returns the names triggered. On a
        shared store, a source this replica does not hold gets the request through the
        store's queue: its owner takes it on its next heartbeat (or this replica, when it
        gains the source). On SQLite the one daemon holds every source."""
        chosen = [self.runner(name)] if name else list(self.runners.values())
        for runner in chosen:
            if self._shared and not runner.owned:  # another replica's, or about to be
                self.store.enqueue(
                    queue.SYNC, runner.config.name, payload={"reason": reason}, at=self.clock.now()
                )
            else:
                runner.trigger(reason)
        return [r.config.name for r in chosen]

    def _sync_for_run(self, name: str | None) -> list[str]:
        return self.request_sync(name, reason="workflow")

    def _default_replica_name(self) -> str:
        """`<hostname>-<pid>` on a shared store; on SQLite, which one daemon opens, the
        host name alone, so a restarted daemon takes its leases back at once."""
        if not self._shared:
            return replicas.default_name().rsplit("-", 1)[0]
        return replicas.default_name()

    @property
    def ready(self) -> bool:
        return all(r.ready for r in self.runners.values())

    async def run(self, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        await asyncio.to_thread(self.simulations.recover)
        await self._beat(reason=None, claim=False)  # the startup sync runs what it gained
        await self._reap_orphans()  # this host's dead daemons' groups, before any resume
        await self.workflows.start()  # claims the runs of the sources gained
        tasks = [
            asyncio.create_task(r.run(stop), name=f"source-{n}") for n, r in self.runners.items()
        ]
        tasks.append(asyncio.create_task(self._heartbeat(stop), name="heartbeat"))
        tasks.append(asyncio.create_task(self.sender.run(stop, self._outbox_changed)))
        tasks += [
            asyncio.create_task(self._watch(r, stop))
            for r in self.runners.values()
            if r.config.path is not None
        ]
        self._schedule()
        self.scheduler.start()
        self.request_sync(reason="startup")
        try:
            await stop.wait()
        finally:
            self.scheduler.shutdown()
            if self._takeover is not None:
                tasks.append(self._takeover)
                self._takeover.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.workflows.stop()  # before leaving: no run write after its claim goes
            await asyncio.to_thread(self.simulations.close)  # none started after leaving
            await self._leave()
            self._pool.shutdown(wait=True)
            if self.evaluations is not None:
                await asyncio.to_thread(self.evaluations.close)
            await self._anchor()  # the head as the daemon leaves it
            self.store.close()

    def _schedule(self) -> None:
        for runner in self.runners.values():
            self._schedule_source(runner)
        self.scheduler.every("retention", self._retention, seconds=3600)
        if self.settings.audit.anchor is not None:
            interval = seconds(self.settings.audit.anchor.interval)
            self.scheduler.every("audit-anchor", self._anchor, seconds=interval)

    def _schedule_source(self, runner: SourceRunner) -> None:
        """(Re)schedule a source's interval and audit jobs from its effective settings;
        a job's next run is one (new) interval from now."""
        name, settings = runner.config.name, runner.state.effective
        interval = seconds(settings.interval.value)
        audit = seconds(settings.audit_interval.value)
        self.scheduler.every(
            f"interval:{name}",
            self._trigger(runner, "interval"),
            seconds=interval,
            # Jitter spreads sources apart; it never stretches a short interval much.
            jitter=min(seconds(runner.config.jitter), interval / 10),
        )
        self.scheduler.every(
            f"audit:{name}",
            runner.run_audit,
            seconds=audit,
            first_at=self.clock.now() + timedelta(seconds=audit),
        )
        log.info(
            "source %s: interval %s (%s), audit interval %s (%s), self-heal %s (%s)",
            name,
            settings.interval.value,
            settings.interval.origin,
            settings.audit_interval.value,
            settings.audit_interval.origin,
            str(settings.self_heal.value).lower(),
            settings.self_heal.origin,
        )

    async def _reap_orphans(self) -> None:
        """Before anything is re-planned or resumed: the process groups a dead daemon left
        running on this host (a previous one, or a replica whose lease expired) get
        `orphan_wait` to finish, then are killed; each is an `OrphanReaped` event naming
        the object or run step it was working for (that work is re-planned or resumed)."""
        wait = seconds(self.settings.reconcile.orphan_wait)

        def others() -> set[str]:
            return set(self.membership.live_replicas()) - {self.membership.name}

        found = await orphans.reap(
            self.store, own_pid=os.getpid(), wait=wait, host=self.host, live=others
        )
        for reaped in found:
            child = reaped.child
            end = f"killed after {wait:g}s" if reaped.killed else "finished on its own"
            kind, _, work = child.owner.partition(":")
            source, _, key = work.partition("/") if kind == "object" else ("", "", None)
            log.warning(
                "a previous daemon's process group %d (%s) %s", child.pgid, child.owner, end
            )
            self.bus.publish(
                Event(
                    type=EventType.ORPHAN_REAPED,
                    at=self.clock.now(),
                    source=source,
                    object_key=key,
                    message=f"process group {child.pgid} working for {child.owner} {end}",
                    data={"owner": child.owner, "pgid": child.pgid, "killed": reaped.killed},
                )
            )

    async def _heartbeat(self, stop: asyncio.Event) -> None:
        """Renew and claim leases every third of the lease ttl until `stop`."""
        period = self.membership.ttl.total_seconds() / 3
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), period)
            if not stop.is_set():
                await self._beat()

    async def _leave(self) -> None:
        """Release this replica's leases, so the others take its sources over at once."""
        try:
            await asyncio.to_thread(self.membership.leave)
        except StoreError as exc:  # they expire after the ttl instead
            log.error("replica %s: releasing its leases failed: %s", self.membership.name, exc)

    async def _beat(self, *, reason: str | None = "lease", claim: bool = True) -> None:
        """One heartbeat; a source gained is reconciled at once (a takeover resumes), with
        `reason` as the trigger; with `claim`, the runs queued for the sources held (new,
        or left by a replica that died) are claimed and started."""
        try:
            beat = await asyncio.to_thread(self.membership.beat)
        except StoreError as exc:
            log.error("replica %s: heartbeat failed: %s", self.membership.name, exc)
            return
        for name in sorted(beat.gained):
            log.info("replica %s owns source %s", self.membership.name, name)
            if reason is not None:
                self.runners[name].trigger(reason)
        try:
            asked = await asyncio.to_thread(
                self.store.take, queue.SYNC, targets=self.membership.held()
            )
        except StoreError as exc:
            log.error("replica %s: taking queued syncs failed: %s", self.membership.name, exc)
            return
        for work in asked:
            self.runners[work.target].trigger(str(work.payload.get("reason", "manual")))
        await self.workflows.take_actions()
        await asyncio.to_thread(self.simulations.claim)
        if beat.gained and reason is not None:
            self._take_over()
        elif claim and (self._takeover is None or self._takeover.done()):
            await self.workflows.claim()

    def _take_over(self) -> None:
        """Sources were gained after start-up (a replica died or left): reap what a dead
        replica left running on this host, then claim its runs — beside the heartbeat,
        which goes on renewing while orphans get their `orphan_wait`."""
        if self._takeover is not None and not self._takeover.done():
            return  # the next beat claims what this one gained

        async def take_over() -> None:
            try:
                await self._reap_orphans()
            except StoreError as exc:
                log.error("replica %s: reaping orphans failed: %s", self.membership.name, exc)
            await self.workflows.claim()

        self._takeover = asyncio.create_task(take_over(), name="takeover")

    @staticmethod
    def _trigger(runner: SourceRunner, reason: str) -> Callable[[], Awaitable[None]]:
        async def job() -> None:
            runner.trigger(reason)

        return job

    async def _retention(self) -> None:
        await asyncio.to_thread(self.store.apply_retention, now=self.clock.now())

    async def _anchor(self) -> None:
        """Commit the audit chain's head to the configured repository (docs/audit.md)."""
        if self.settings.audit.anchor is None:
            return
        where = self.settings.audit.anchor.repository
        try:
            made = await asyncio.to_thread(anchors.anchor, self.store, where, at=self.clock.now())
        except ReconcilerError as exc:
            log.error("anchoring the audit log in %s failed: %s", where, exc)
            return
        if made is not None:
            log.info("audit log anchored in %s: entry %d %s", where, made.seq, made.hash)

    async def _watch(self, runner: SourceRunner, stop: asyncio.Event) -> None:
        assert runner.config.path is not None
        with contextlib.suppress(asyncio.CancelledError):
            try:
                async for _ in watch.watch_refs(runner.config.path, stop=stop):
                    runner.trigger("git")
            except Exception:
                log.exception("watching %s failed; relying on the interval", runner.config.path)

    def _wake_sender(self) -> None:
        """A notification was queued (on any thread): sweep the outbox now."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._outbox_changed.set)

    def _record_event(self, event: Event) -> None:
        self.store.append_event(
            EventRecord(
                at=event.at,
                type=event.type.value,
                object_key=event.object_key,
                message=event.message,
                data={"source": event.source, **event.data},
            )
        )
