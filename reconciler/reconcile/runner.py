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
import threading
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from reconciler.children import NO_LEDGER, ChildLedger
from reconciler.clock import Clock
from reconciler.conditions import Condition, ConditionStatus, Reason, Type, set_condition
from reconciler.events import Bus, Event, EventType
from reconciler.policy.pool import EvaluationPool
from reconciler.providers.base import FileSettings, ProviderSettings
from reconciler.providers.registry import Registry
from reconciler.reconcile import effective, records, settings_change
from reconciler.reconcile.controller import Controller
from reconciler.reconcile.effective import Effective
from reconciler.reconcile.ownership import Lease, Ownership
from reconciler.reconcile.results import PassResult
from reconciler.reconcile.revisions import Loaded, Rejected, SourceLoader
from reconciler.reconcile.settings import (
    NO_FLAGS,
    DaemonSource,
    Flags,
    ProviderOptions,
    ReconcileSettings,
)
from reconciler.specs.models import SettingsSpec
from reconciler.store.interfaces import Store, StoreError
from reconciler.store.leases import LeaseLost

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class SourceState:
    """What the API shows about a source. The runner replaces it whole on every change, so
    a reader always sees one consistent picture (never a new revision with old conditions)."""

    name: str
    location: str
    ref: str
    suspended: bool = False
    reconciling: bool = False
    fetched: bool = False
    last_sync_at: datetime | None = None
    last_audit_at: datetime | None = None  # the last audit of the served revision
    last_trigger: str | None = None
    revision: str | None = None  # last-known-good revision being served
    rejected_revision: str | None = None
    failures: tuple[Condition, ...] = ()  # failure conditions of the source itself
    conditions: tuple[Condition, ...] = ()  # the failures and Ready
    last_result: dict[str, int] = field(default_factory=dict)
    orphans: tuple[str, ...] = ()
    effective: Effective  # the interval, audit interval and self-heal in force


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
        files_dir: Path | None = None,
        programs_dir: Path | None = None,
        providers: ProviderOptions | None = None,
        flags: Flags = NO_FLAGS,
        children: ChildLedger = NO_LEDGER,
        lease: Lease | None = None,
        evaluations: EvaluationPool | None = None,
    ) -> None:
        """`files_dir`: where relative File paths resolve (the daemon's `<data-dir>/files`);
        `programs_dir`: where served revisions' provider programs are materialised;
        `children`: where provider programs' process groups are entered while they run;
        `lease`: the source's lease (passes run only while this replica holds it, and
        write through a store fenced by it); None: always run, unfenced; `evaluations`:
        the worker processes large batches of documents are evaluated on."""
        self.ownership = Ownership(config.name, store=store, clock=clock, lease=lease)
        store = self.ownership.store
        self.config, self.store, self.bus, self.clock = config, store, bus, clock
        self.settings, self.flags = settings, flags
        self.loader = SourceLoader(config, programs_dir=programs_dir)
        registry = Registry.load(provider_settings(config, providers, files_dir=files_dir))
        registry.watch_children(children, source=config.name)
        self.controller = Controller(
            name=config.name,
            loader=self.loader,
            registry=registry,
            store=store,
            bus=bus,
            clock=clock,
            settings=settings,
            pool=pool,
            flags=flags,
            evaluations=evaluations,
        )
        self._lock = threading.Lock()
        self.state = SourceState(
            name=config.name,
            location=config.location,
            ref=config.ref,
            suspended=config.suspend,
            effective=self._effective(),
        )
        self._update()
        self._thread = ThreadPoolExecutor(1, thread_name_prefix=f"source-{config.name}")
        self._wake = asyncio.Event()
        self._reasons: list[str] = []
        self.passes = 0
        self._served_settings: SettingsSpec | None = None
        self.on_effective: Callable[[SourceRunner], None] | None = None
        """Called on the event loop when a pass changed the effective settings (a new
        revision's `reconciler.yaml`): the daemon reschedules the source."""

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
                before = self.state.effective
                await loop.run_in_executor(self._thread, self.cycle, trigger)
                if self.state.effective != before and self.on_effective is not None:
                    self.on_effective(self)
        finally:
            stopping.cancel()
            await loop.run_in_executor(self._thread, self._release)
            await loop.run_in_executor(None, self._thread.shutdown)

    async def on_worker(self, fn: Callable[[], T]) -> T:
        """Run `fn` on this source's worker thread (where its regorus engines live)."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn)

    def _release(self) -> None:
        """Drop the revision's regorus engines on the thread that built them: PyO3 refuses
        to free an unsendable engine on any other thread."""
        self.controller.release()
        self.loader.last_good = None

    @property
    def owned(self) -> bool:
        """Whether this replica holds the source's lease (always, unclustered)."""
        return self.ownership.owned

    def cycle(self, trigger: str) -> None:
        """Fetch/load, then reconcile the last-known-good revision (on the worker thread),
        while this replica owns the source."""
        if self.state.suspended or not self.ownership.take():
            return  # suspended after this cycle was queued, or owned elsewhere
        started = self.clock.monotonic()
        self._update(reconciling=True, last_trigger=trigger)
        result: PassResult | None = None
        try:
            self._note_revision(self.loader.refresh(fetch=self.config.url is not None))
            loaded = self.loader.last_good
            result = self.controller.reconcile(loaded, trigger=trigger) if loaded else None
        except LeaseLost as exc:
            log.warning("source %s: pass stopped, now owned elsewhere: %s", self.config.name, exc)
            return  # the new owner's pass records this one as interrupted
        except StoreError as exc:
            log.error("reconcile of source %s failed: %s", self.config.name, exc)
            self._store_failed(exc)
        except Exception:
            log.exception("reconcile of source %s failed", self.config.name)
        finally:
            self._update(reconciling=False, last_sync_at=self.clock.now(), **_summary(result))
            self.passes += 1
        self._publish_finished(result, duration=self.clock.monotonic() - started)

    def audit(self) -> int:
        """Re-evaluate policies over observed state, log what changed, announce violations;
        returns how many documents violate a policy (worker thread)."""
        loaded = self.loader.last_good
        if loaded is None or self.state.suspended or not self.ownership.take():
            return 0
        try:
            return self.controller.audit(loaded)
        except LeaseLost as exc:
            log.warning("source %s: audit stopped: %s", self.config.name, exc)
            return 0
        finally:
            self._update(last_audit_at=self.clock.now())

    async def run_audit(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, self.audit)

    def _note_revision(self, got: Loaded | Rejected) -> None:
        now = self.clock.now()
        if isinstance(got, Rejected):
            self._rejected(got, at=now)
            return
        if self.state.revision != got.revision.sha:
            self.store.record_revision(self.config.name, got.revision)
            self._publish(
                EventType.REVISION_FETCHED,
                message=f"{got.revision.ref}@{got.revision.short}",
                data={"revision": got.revision.sha},
                at=now,
            )
            self._settings_served(got, at=now)
        self._update(
            revision=got.revision.sha,
            rejected_revision=None,
            fetched=True,
            failures=(),
            effective=self._effective(got.snapshot.settings.spec),
            at=now,
        )

    def _settings_served(self, got: Loaded, *, at: datetime) -> None:
        """Publish SettingsChanged when this revision's settings differ from the last one's."""
        before = self._served_settings
        self._served_settings = spec = got.snapshot.settings.spec
        changed = settings_change.change(before, spec) if before is not None else None
        if changed:
            keys = ", ".join(changed["changed"])
            self._publish(
                EventType.SETTINGS_CHANGED,
                message=f"settings changed at {got.revision.short}: {keys}",
                data={"revision": got.revision.sha, "actor": got.revision.author, **changed},
                at=at,
                object_key=f"settings/{self.config.name}",
            )

    def _store_failed(self, exc: StoreError) -> None:
        """The pass could not record what it did: not Ready until a pass records again."""
        at = self.clock.now()
        failure = records.true_condition(
            Type.STORE_FAILED, Reason.STORE_WRITE_FAILED, str(exc), revision=None, at=at
        )
        self._update(failures=(*self.state.failures, failure), at=at)

    def _rejected(self, got: Rejected, *, at: datetime) -> None:
        fetch = got.reason in (Reason.FETCH_FAILED, Reason.SIGNATURE_INVALID)
        sha = got.revision.sha if got.revision else None
        failure = records.true_condition(
            Type.SOURCE_FETCH_FAILED if fetch else Type.SPEC_INVALID,
            got.reason,
            got.message,
            revision=sha,
            at=at,
        )
        before = self.state
        if (sha, failure.message) == (before.rejected_revision, _message(before.failures)):
            self._update(at=at)  # the same rejection again: nothing new to announce
            return
        # The event first: whoever sees the new state can find the event too.
        self._publish(
            EventType.REVISION_REJECTED,
            message=got.message,
            data={
                "revision": sha,
                "reason": got.reason.value,
                "problems": [str(p) for p in got.problems],
            },
            at=at,
        )
        self._update(
            rejected_revision=sha,
            fetched=self.state.fetched or self.loader.last_good is not None,
            failures=(failure,),
            at=at,
        )

    def _update(self, *, at: datetime | None = None, **changes: Any) -> None:
        """Replace the state with `changes` applied and its conditions summarised again."""
        with self._lock:
            state = dataclasses.replace(self.state, **changes)
            conditions = _conditions(state, at=at or self.clock.now())
            self.state = dataclasses.replace(state, conditions=conditions)

    def _publish(
        self,
        type_: EventType,
        *,
        message: str,
        data: dict[str, Any],
        at: datetime,
        object_key: str | None = None,
    ) -> None:
        self.bus.publish(
            Event(
                type=type_,
                at=at,
                source=self.config.name,
                object_key=object_key,
                message=message,
                data=data,
            )
        )

    def _publish_finished(self, result: PassResult | None, *, duration: float) -> None:
        """`succeeded` only when the source is at its newest revision and the pass had no
        error: a pass over the last-known-good revision after a rejection failed."""
        state = self.state
        failed = result is None or bool(result.error) or bool(state.failures)
        status = "failed" if failed else "succeeded"
        self._publish(
            EventType.RECONCILE_FINISHED,
            message=f"reconcile {status}{_why(state, result)}",
            data={
                "duration_seconds": duration,
                "result": status,
                "applied_revision": state.revision,
                "trigger": state.last_trigger,
                "decisions": _decisions(result),
                **state.last_result,
            },
            at=self.clock.now(),
        )

    def _effective(self, repo: SettingsSpec | None = None) -> Effective:
        return effective.resolve(
            flags=self.flags, source=self.config, reconcile=self.settings, repo=repo
        )

    @property
    def ready(self) -> bool:
        """Serving a revision, or deliberately idle (suspended, or owned elsewhere)."""
        return self.state.fetched or self.state.suspended or self.ownership.elsewhere

    def set_suspended(self, value: bool) -> None:
        """Suspend (triggers are dropped; a running reconcile finishes) or resume."""
        self._update(suspended=value)
        if not value:
            self.trigger("resume")


def _why(state: SourceState, result: PassResult | None) -> str:
    """Why a pass failed, for the message of its `ReconcileFinished` event."""
    if result is not None and result.error:
        return f": {result.error}"
    if not state.failures:
        return ""
    failure = state.failures[0]
    what = f"revision {state.rejected_revision[:12]} rejected" if state.rejected_revision else ""
    kept = f"; last-known-good {state.revision[:12]} kept" if state.revision else ""
    return f": {what or failure.message} ({failure.reason}){kept}"


def _message(failures: tuple[Condition, ...]) -> str | None:
    return failures[0].message if failures else None


def _summary(result: PassResult | None) -> dict[str, Any]:
    """State fields a finished pass changes: counts of outcomes and the orphans."""
    if result is None:
        return {}
    counts: dict[str, int] = {}
    for outcome in result.outcomes:
        counts[outcome.result.value] = counts.get(outcome.result.value, 0) + 1
    if result.violations:
        counts["violation"] = result.violations
    return {"last_result": counts, "orphans": result.orphans}


def _decisions(result: PassResult | None) -> dict[str, int]:
    """The pass's decisions counted by `outcome/enforcement` (for the metrics)."""
    found: dict[str, int] = {}
    for outcome in result.outcomes if result is not None else ():
        for d in outcome.decisions:
            part = f"{d.outcome.value}/{d.enforcement.value}"
            found[part] = found.get(part, 0) + 1
    return found


def _conditions(state: SourceState, *, at: datetime) -> tuple[Condition, ...]:
    """Ready from the failures, unless suspended or not fetched yet (then Ready says so)."""
    conditions = records.source_conditions(state.failures, revision=state.revision, at=at)
    if state.suspended:
        ready = (ConditionStatus.FALSE, Reason.SUSPENDED, "reconciliation is suspended")
    elif not state.fetched and not state.failures:
        ready = (ConditionStatus.UNKNOWN, Reason.PROGRESSING, "fetching the first revision")
    else:
        return _keep_times(conditions, state.conditions)
    status, reason, message = ready
    summary = records.true_condition(Type.READY, reason, message, revision=state.revision, at=at)
    return _keep_times(
        set_condition(conditions, dataclasses.replace(summary, status=status)), state.conditions
    )


def _keep_times(
    conditions: tuple[Condition, ...], before: tuple[Condition, ...]
) -> tuple[Condition, ...]:
    """A condition whose status did not change keeps its last transition time."""
    for old in before:
        conditions = tuple(
            dataclasses.replace(c, last_transition_time=old.last_transition_time)
            if c.type == old.type and c.status == old.status
            else c
            for c in conditions
        )
    return conditions


__all__ = ["ConditionStatus", "SourceRunner", "SourceState"]


def provider_settings(
    config: DaemonSource, options: ProviderOptions | None, *, files_dir: Path | None
) -> ProviderSettings:
    """What the built-in providers get: the daemon's `providers:` and the source's places."""
    options = options or ProviderOptions()
    timeouts = {
        name: {"timeout": o.timeout}
        for name, o in (("exec", options.exec), ("http", options.http))
        if o.timeout is not None
    }
    return ProviderSettings.model_validate(
        {
            "repository_dir": config.path,
            "file": FileSettings(roots=tuple(options.file.roots), managed_dir=files_dir),
            **timeouts,
        }
    )
