"""One reconcile pass of a source: observe, plan, gate, apply, record.

Runs on the source's worker thread (it owns the regorus engine of the revision). Provider
reads fan out on a shared thread pool; changes are applied in plan order (waves, then
`dependsOn`). Every object's status is persisted once at the end of its chain, and the
pass itself is recorded as a run, so a pass killed half-way leaves complete records and the
next pass converges from what is really there.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from reconciler.clock import Clock
from reconciler.conditions import ConditionStatus, Reason, Type
from reconciler.errors import ProblemsError, ReconcilerError
from reconciler.events import Bus, Event, EventType
from reconciler.plan import ignore, order, planner
from reconciler.policy.evaluate import Evaluator
from reconciler.providers import base
from reconciler.providers.registry import Registry
from reconciler.reconcile import records, resources
from reconciler.reconcile.backoff import Backoff
from reconciler.reconcile.revisions import Loaded, SourceLoader
from reconciler.reconcile.settings import ReconcileSettings
from reconciler.specs.snapshot import Document
from reconciler.store.base import ObjectStatus, RunKind, RunRecord, RunStatus, Store

_EVENT_OF = {
    resources.Result.APPLIED: EventType.RESOURCE_APPLIED,
    resources.Result.DELETED: EventType.RESOURCE_DELETED,
    resources.Result.BLOCKED: EventType.RESOURCE_BLOCKED,
    resources.Result.FAILED: EventType.RESOURCE_FAILED,
}
_NOT_READY = {
    resources.Result.BLOCKED,
    resources.Result.FAILED,
    resources.Result.WAITING,
    resources.Result.BACKING_OFF,
}


@dataclass(frozen=True, kw_only=True)
class PassResult:
    revision: str
    outcomes: tuple[resources.Outcome, ...]
    orphans: tuple[str, ...]
    error: str | None = None

    def count(self, result: resources.Result) -> int:
        return sum(1 for o in self.outcomes if o.result is result)


@dataclass(kw_only=True)
class Managed:
    doc: Document
    provider: base.Provider
    observed: dict[str, Any] | None = None
    error: base.ProviderError | None = None


def digest(body: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


class Controller:
    """The reconcile passes of one source."""

    def __init__(
        self,
        *,
        name: str,
        loader: SourceLoader,
        registry: Registry,
        store: Store,
        bus: Bus,
        clock: Clock,
        settings: ReconcileSettings,
        pool: Executor,
    ) -> None:
        self.name, self.loader, self.registry, self.store = name, loader, registry, store
        self.bus, self.clock, self.settings, self.pool = bus, clock, settings, pool
        self.backoff = Backoff(
            base=_seconds(settings.backoff.base), maximum=_seconds(settings.backoff.max)
        )
        self._evaluator: tuple[str, Evaluator] | None = None
        self._applied_digest: dict[str, str] = {}

    def evaluator(self, loaded: Loaded) -> Evaluator:
        sha = loaded.revision.sha
        if self._evaluator is None or self._evaluator[0] != sha:
            self._evaluator = (sha, Evaluator(loaded.bundle, clock=self.clock, revision=sha))
        return self._evaluator[1]

    def reconcile(self, loaded: Loaded, *, trigger: str) -> PassResult:
        run = self._start_run(loaded, trigger=trigger)
        try:
            result = self._pass(loaded)
        except ReconcilerError as exc:
            result = PassResult(
                revision=loaded.revision.sha, outcomes=(), orphans=(), error=str(exc)
            )
        self._finish_run(run, result)
        return result

    def _pass(self, loaded: Loaded) -> PassResult:
        repo = loaded.snapshot.settings.spec
        managed = self._managed(loaded)
        self._observe(managed)
        previous = {s.key: s for s in self.store.list_status(source=self.name)}
        usable = {k: m for k, m in managed.items() if m.error is None}
        inventory = {k for k, s in previous.items() if s.last_applied_revision and k not in managed}
        plan = planner.plan(
            desired={k: m.doc.body for k, m in usable.items()},
            observed={k: self._normalised(m) for k, m in usable.items()},
            inventory=inventory | {k for k in usable if k in previous},
            prune=repo.prune,
            rules=ignore.rules_from_settings(repo.ignore_differences),
        )
        outcomes = [self._observe_failed(m) for m in managed.values() if m.error is not None]
        outcomes += self._run_changes(loaded, plan, usable, previous)
        result = PassResult(
            revision=loaded.revision.sha, outcomes=tuple(outcomes), orphans=plan.orphans
        )
        return result

    def _managed(self, loaded: Loaded) -> dict[str, Managed]:
        mapping = loaded.snapshot.settings.spec.providers
        found: dict[str, Managed] = {}
        for doc in loaded.snapshot.resources:
            try:
                provider = self.registry.find(doc, mapping=mapping)
            except ProblemsError:
                continue  # reported by validation of the revision
            if provider is not None:
                found[doc.key] = Managed(doc=doc, provider=provider)
        return found

    def _observe(self, managed: Mapping[str, Managed]) -> None:
        def observe(item: Managed) -> None:
            try:
                item.observed = item.provider.observe(item.doc)
            except base.ProviderError as exc:
                item.error = exc

        list(self.pool.map(observe, managed.values()))

    @staticmethod
    def _normalised(item: Managed) -> dict[str, Any] | None:
        if item.observed is None:
            return None
        return item.provider.normalise(item.doc.body, item.observed)

    def _observe_failed(self, item: Managed) -> resources.Outcome:
        reason = (
            Reason.PROVIDER_TIMEOUT
            if isinstance(item.error, base.ProviderTimeout)
            else Reason.PROVIDER_ERROR
        )
        now = self.clock.now()
        cond = records.true_condition(
            Type.APPLY_FAILED, reason, str(item.error), revision=None, at=now
        )
        return resources.Outcome(
            key=item.doc.key,
            result=resources.Result.FAILED,
            set_conditions=(cond,),
            message=str(item.error),
            provider=item.provider.name,
        )

    def _run_changes(
        self,
        loaded: Loaded,
        plan: planner.Plan,
        usable: Mapping[str, Managed],
        previous: Mapping[str, ObjectStatus],
    ) -> list[resources.Outcome]:
        evaluator = self.evaluator(loaded)
        done: dict[str, resources.Outcome] = {}
        for change in plan.changes:
            item = usable.get(change.key)
            doc = item.doc if item else self._deleted_doc(change.key, previous)
            provider = item.provider if item else self._provider_for(doc, loaded)
            if doc is None or provider is None:
                continue
            step = self._step(
                loaded, change, doc, provider, previous.get(change.key), done, evaluator
            )
            outcome = resources.run(step)
            done[change.key] = outcome
            self._after(outcome, loaded, doc, change, previous.get(change.key))
        return list(done.values())

    def _step(
        self,
        loaded: Loaded,
        change: planner.Change,
        doc: Document,
        provider: base.Provider,
        prev: ObjectStatus | None,
        done: Mapping[str, resources.Outcome],
        evaluator: Evaluator,
    ) -> resources.Step:
        now = self.clock.now()
        deps = order.placement(key=change.key, body=change.desired).depends_on
        blocked = next((d for d in deps if d in done and done[d].result in _NOT_READY), None)
        return resources.Step(
            doc=doc,
            change=change,
            provider=provider,
            drifted=self._drifted(change, doc, prev),
            self_heal=self.settings.self_heal,
            backing_off=self.backoff.waiting(change.key, now),
            blocked_dependency=blocked,
            revision=loaded.revision.sha,
            now=now,
            evaluator=evaluator,
        )

    def _drifted(self, change: planner.Change, doc: Document, prev: ObjectStatus | None) -> bool:
        """Applied before with the same desired body, yet different now: changed by hand."""
        if change.action not in (planner.Action.UPDATE, planner.Action.CREATE) or prev is None:
            return False
        if prev.last_applied_revision is None:
            return False
        known = self._applied_digest.get(change.key)
        return (
            known == digest(doc.body)
            if known
            else (prev.last_applied_revision == prev.last_attempted_revision)
        )

    def _after(
        self,
        outcome: resources.Outcome,
        loaded: Loaded,
        doc: Document,
        change: planner.Change,
        prev: ObjectStatus | None,
    ) -> None:
        now = self.clock.now()
        if outcome.result in (resources.Result.APPLIED, resources.Result.UNCHANGED):
            self.backoff.succeeded(outcome.key)
            self._applied_digest[outcome.key] = digest(doc.body)
        elif outcome.result is resources.Result.FAILED:
            self.backoff.failed(outcome.key, now)
        if outcome.decisions:
            self.store.append_decisions(outcome.decisions)
        if outcome.result is resources.Result.DELETED:
            self.store.delete_status(outcome.key)
            self._applied_digest.pop(outcome.key, None)
        else:
            self.store.put_status(
                records.status_after(
                    prev=prev,
                    doc=doc,
                    outcome=outcome,
                    change=change,
                    source=self.name,
                    revision=loaded.revision.sha,
                    at=now,
                )
            )
        self._publish(outcome, loaded)

    def _publish(self, outcome: resources.Outcome, loaded: Loaded) -> None:
        now = self.clock.now()
        data = {
            "revision": loaded.revision.sha,
            "result": outcome.result.value,
            "provider": outcome.provider,
        }
        if outcome.drifted:
            self.bus.publish(
                Event(
                    type=EventType.DRIFT_DETECTED,
                    at=now,
                    source=self.name,
                    object_key=outcome.key,
                    message=outcome.message,
                    data=data,
                )
            )
        event_type = _EVENT_OF.get(outcome.result)
        if event_type is not None:
            self.bus.publish(
                Event(
                    type=event_type,
                    at=now,
                    source=self.name,
                    object_key=outcome.key,
                    message=outcome.message,
                    data=data,
                )
            )

    def _deleted_doc(self, key: str, previous: Mapping[str, ObjectStatus]) -> Document | None:
        prev = previous.get(key)
        if prev is None or prev.last_applied_revision is None:
            return None
        return self.loader.document_at(prev.last_applied_revision, key)

    def _provider_for(self, doc: Document | None, loaded: Loaded) -> base.Provider | None:
        if doc is None:
            return None
        try:
            return self.registry.find(doc, mapping=loaded.snapshot.settings.spec.providers)
        except ProblemsError:
            return None

    def _start_run(self, loaded: Loaded, *, trigger: str) -> RunRecord:
        run = RunRecord(
            id=str(uuid.uuid4()),
            kind=RunKind.RECONCILE,
            name=self.name,
            trigger=trigger,
            revision=loaded.revision.sha,
            status=RunStatus.RUNNING,
            started_at=self.clock.now(),
        )
        self.store.create_run(run)
        return run

    def _finish_run(self, run: RunRecord, result: PassResult) -> None:
        status = (
            RunStatus.FAILED
            if result.error or any(o.result is resources.Result.FAILED for o in result.outcomes)
            else RunStatus.SUCCEEDED
        )
        self.store.update_run(
            records.finished_run(run, result=result, status=status, at=self.clock.now())
        )

    def observed_of(self, loaded: Loaded) -> dict[str, dict[str, Any] | None]:
        """Observed state of every managed object (for audits and simulations)."""
        managed = self._managed(loaded)
        self._observe(managed)
        return {k: m.observed for k, m in managed.items() if m.error is None}


def _seconds(duration: str) -> float:
    from reconciler.specs.types import seconds

    return seconds(duration)


__all__ = ["ConditionStatus", "Controller", "PassResult"]
