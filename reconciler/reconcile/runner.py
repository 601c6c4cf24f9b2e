"""One source inside the daemon: its worker thread, coalescing triggers and live status.

Every blocking step of the source (git, YAML, regorus, providers) runs on the source's own
single worker thread, so the regorus engines of its revisions stay on the thread that built
them and at most one reconcile of the source runs at a time. Triggers that arrive while a
reconcile runs coalesce into one more reconcile afterwards.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from reconciler.clock import Clock
from reconciler.conditions import Condition, ConditionStatus, Reason, Type, set_condition
from reconciler.events import Bus, Event, EventType
from reconciler.providers.base import ProviderSettings
from reconciler.providers.registry import Registry
from reconciler.reconcile import records
from reconciler.reconcile.controller import Controller, PassResult
from reconciler.reconcile.revisions import Loaded, Rejected, SourceLoader
from reconciler.reconcile.settings import DaemonSource, ReconcileSettings
from reconciler.store.base import Store

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class SourceState:
    """What the API shows about a source; written only by its runner."""

    name: str
    location: str
    ref: str
    suspended: bool = False
    reconciling: bool = False
    fetched: bool = False
    last_sync_at: datetime | None = None
    last_trigger: str | None = None
    revision: str | None = None  # last-known-good revision being served
    rejected_revision: str | None = None
    conditions: tuple[Condition, ...] = ()
    last_result: dict[str, int] = field(default_factory=dict)
    orphans: tuple[str, ...] = ()


class SourceRunner:
    def __init__(
        self,
        config: DaemonSource,
        *,
        store: Store,
        bus: Bus,
        clock: Clock,
        settings: ReconcileSettings,
        pool: Executor,
    ) -> None:
        self.config, self.store, self.bus, self.clock = config, store, bus, clock
        self.settings = settings
        self.loader = SourceLoader(config)
        registry = Registry.load(ProviderSettings(repository_dir=config.path))
        self.controller = Controller(
            name=config.name,
            loader=self.loader,
            registry=registry,
            store=store,
            bus=bus,
            clock=clock,
            settings=settings,
            pool=pool,
        )
        self.state = SourceState(
            name=config.name, location=config.location, ref=config.ref, suspended=config.suspend
        )
        self._thread = ThreadPoolExecutor(1, thread_name_prefix=f"source-{config.name}")
        self._wake = asyncio.Event()
        self._reasons: list[str] = []
        self._failures: tuple[Condition, ...] = ()
        self.passes = 0
        self._show_conditions(clock.now())

    def trigger(self, reason: str) -> None:
        """Ask for a reconcile (call on the event loop); repeated asks coalesce."""
        self._reasons.append(reason)
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        stopping = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                woke = asyncio.ensure_future(self._wake.wait())
                await asyncio.wait({woke, stopping}, return_when=asyncio.FIRST_COMPLETED)
                woke.cancel()
                if stop.is_set():
                    break
                self._wake.clear()
                reasons, self._reasons = self._reasons, []
                if self.state.suspended:
                    continue
                trigger = ",".join(sorted(set(reasons))) or "manual"
                await loop.run_in_executor(self._thread, self.cycle, trigger)
        finally:
            stopping.cancel()
            await loop.run_in_executor(self._thread, self._release)
            await loop.run_in_executor(None, self._thread.shutdown)

    def _release(self) -> None:
        """Drop the revision's regorus engines on the thread that built them (they may not
        be freed on any other: PyO3 aborts the drop of an unsendable object elsewhere)."""
        self.controller._evaluator = None
        self.loader.last_good = None

    def cycle(self, trigger: str) -> None:
        """Fetch/load, then reconcile the last-known-good revision (on the worker thread)."""
        if self.state.suspended:  # suspended after this cycle was queued
            return
        started = self.clock.monotonic()
        self.state.reconciling, self.state.last_trigger = True, trigger
        try:
            got = self.loader.refresh(fetch=self.config.url is not None)
            self._note_revision(got)
            loaded = self.loader.last_good
            result = self.controller.reconcile(loaded, trigger=trigger) if loaded else None
            if result is not None:
                self._note_result(result)
        except Exception:
            log.exception("reconcile of source %s failed", self.config.name)
            result = None
        finally:
            self.state.reconciling = False
            self.state.last_sync_at = self.clock.now()
            self.passes += 1
        self._publish_finished(result, duration=self.clock.monotonic() - started)

    def audit(self) -> int:
        """Re-evaluate policies over observed state; record the decisions (worker thread)."""
        loaded = self.loader.last_good
        if loaded is None:
            return 0
        observed = self.controller.observed_of(loaded)
        evaluator = self.controller.evaluator(loaded)
        decisions = [
            d
            for doc in loaded.snapshot.resources
            for d in evaluator.evaluate(doc, observed=observed.get(doc.key))
        ]
        return self.store.append_decisions(decisions)

    async def run_audit(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, self.audit)

    def _note_revision(self, got: Loaded | Rejected) -> None:
        now = self.clock.now()
        conds: tuple[Condition, ...] = ()
        if isinstance(got, Rejected):
            type_ = (
                Type.SOURCE_FETCH_FAILED
                if got.reason in (Reason.FETCH_FAILED, Reason.SIGNATURE_INVALID)
                else Type.SPEC_INVALID
            )
            conds = (
                records.true_condition(
                    type_,
                    got.reason,
                    got.message,
                    revision=got.revision.sha if got.revision else None,
                    at=now,
                ),
            )
            self.state.rejected_revision = got.revision.sha if got.revision else None
            self.bus.publish(
                Event(
                    type=EventType.REVISION_REJECTED,
                    at=now,
                    source=self.config.name,
                    message=got.message,
                    data={"revision": self.state.rejected_revision, "reason": got.reason.value},
                )
            )
        else:
            self.state.rejected_revision = None
            self.state.fetched = True
            if self.state.revision != got.revision.sha:
                self.store.record_revision(self.config.name, got.revision)
                self.bus.publish(
                    Event(
                        type=EventType.REVISION_FETCHED,
                        at=now,
                        source=self.config.name,
                        message=f"{got.revision.ref}@{got.revision.short}",
                        data={"revision": got.revision.sha},
                    )
                )
            self.state.revision = got.revision.sha
        self.state.fetched = self.state.fetched or self.loader.last_good is not None
        self._failures = conds
        self._show_conditions(now)

    def _show_conditions(self, at: datetime) -> None:
        """Ready from the failures, unless suspended or not fetched yet (then Ready says so)."""
        conditions = records.source_conditions(self._failures, revision=self.state.revision, at=at)
        if self.state.suspended:
            ready = (ConditionStatus.FALSE, Reason.SUSPENDED, "reconciliation is suspended")
        elif not self.state.fetched and not self._failures:
            ready = (ConditionStatus.UNKNOWN, Reason.PROGRESSING, "fetching the first revision")
        else:
            self.state.conditions = conditions
            return
        status, reason, message = ready
        summary = records.true_condition(
            Type.READY, reason, message, revision=self.state.revision, at=at
        )
        self.state.conditions = set_condition(
            conditions, dataclasses.replace(summary, status=status)
        )

    def _note_result(self, result: PassResult) -> None:
        counts: dict[str, int] = {}
        for outcome in result.outcomes:
            counts[outcome.result.value] = counts.get(outcome.result.value, 0) + 1
        self.state.last_result = counts
        self.state.orphans = result.orphans

    def _publish_finished(self, result: PassResult | None, *, duration: float) -> None:
        status = "failed" if result is None or result.error else "succeeded"
        self.bus.publish(
            Event(
                type=EventType.RECONCILE_FINISHED,
                at=self.clock.now(),
                source=self.config.name,
                message=f"reconcile {status} in {duration * 1000:.0f} ms",
                data={
                    "duration_seconds": duration,
                    "result": status,
                    "applied_revision": self.state.revision,
                    "trigger": self.state.last_trigger,
                    **self.state.last_result,
                },
            )
        )

    @property
    def ready(self) -> bool:
        return self.state.fetched

    def set_suspended(self, value: bool) -> None:
        """Suspend (triggers are dropped; a running reconcile finishes) or resume."""
        self.state.suspended = value
        self._show_conditions(self.clock.now())
        if not value:
            self.trigger("resume")


__all__ = ["ConditionStatus", "SourceRunner", "SourceState"]
