"""One reconcile pass of a source: observe, plan, gate, apply, record.

Runs on the source's worker thread (it owns the regorus engine of the revision). Provider
reads fan out on a shared thread pool; changes are applied in plan order (waves, then
`dependsOn`); the statuses, decisions and the run of a pass are written in a few
transactions at its end, so a pass killed half-way leaves complete records and the next
pass converges from what is really there.

Two shortcuts keep a pass over thousands of settled objects cheap, and both only skip work
whose answer is already known:
- a pass at a new revision reconciles the objects whose desired document changed (or that
  are not settled, or that left Git); the others were in sync at the previous revision and
  their desired document is the very same, so the interval pass checks them for drift;
- an object whose desired document and observed state are both equal to those of the pass
  that last found it in sync is in sync again: it is not normalised, diffed or planned.
"""

from __future__ import annotations

import enum
import gc
import uuid
from collections.abc import Iterable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from reconciler.clock import Clock
from reconciler.conditions import ConditionStatus, Reason, Type
from reconciler.errors import Problem, ProblemsError, ReconcilerError
from reconciler.events import Bus, Event, EventType
from reconciler.plan import ignore, order, planner
from reconciler.policy.decisions import Decision
from reconciler.policy.evaluate import Evaluator
from reconciler.providers import base
from reconciler.providers.registry import Registry
from reconciler.reconcile import records, resources
from reconciler.reconcile.backoff import Backoff
from reconciler.reconcile.revisions import Loaded, SourceLoader
from reconciler.reconcile.settings import ReconcileSettings
from reconciler.specs import models
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
    resources.Result.DRIFT_REPORTED,
}


class _Sync(enum.Enum):
    SETTLED = "settled"  # as the last pass found it: no outcome, no status change
    IN_SYNC = "in-sync"  # in sync, found so now: an `unchanged` outcome
    PLAN = "plan"  # to be planned


@dataclass(frozen=True, kw_only=True)
class PassResult:
    revision: str
    outcomes: tuple[resources.Outcome, ...]
    orphans: tuple[str, ...]
    error: str | None = None
    settled: int = 0  # objects in sync without an outcome of their own (not planned)
    incremental: bool = False  # only what changed since the previous revision was reconciled

    def count(self, result: resources.Result) -> int:
        found = sum(1 for o in self.outcomes if o.result is result)
        return found + (self.settled if result is resources.Result.UNCHANGED else 0)


@dataclass(frozen=True, kw_only=True)
class Target:
    """A managed object of a revision and the provider managing it."""

    doc: Document
    provider: base.Provider


@dataclass(frozen=True, kw_only=True)
class Known:
    """What the controller remembers of one object between passes."""

    desired: dict[str, Any]  # the desired document its status describes
    applied: dict[str, Any] | None  # the desired document last applied or found in sync
    observed: dict[str, Any] | None = None  # observed state when last found in sync


@dataclass(kw_only=True)
class _Pass:
    """The working state of one pass."""

    loaded: Loaded
    targets: Mapping[str, Target]
    statuses: Mapping[str, ObjectStatus]
    observed: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    errors: dict[str, ReconcilerError] = field(default_factory=dict)
    done: dict[str, resources.Outcome] = field(default_factory=dict)
    changes: dict[str, planner.Change] = field(default_factory=dict)
    carried: set[str] = field(default_factory=set)  # in-sync dependencies of planned objects
    gone: dict[str, Target] = field(default_factory=dict)
    logged: set[str] = field(default_factory=set)  # objects whose decisions are written

    @property
    def revision(self) -> str:
        return self.loaded.revision.sha

    @property
    def repo(self) -> models.SettingsSpec:
        return self.loaded.snapshot.settings.spec


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
        self._targets: tuple[str, dict[str, Target]] | None = None
        self._statuses: dict[str, ObjectStatus] | None = None  # this source's, as stored
        self._known: dict[str, Known] = {}
        self._gone_docs: dict[str, Document | None] = {}  # as last applied, by key
        self._applied: set[str] = set()  # keys with a status saying they were applied
        self._unsettled: set[str] = set()  # keys the last pass did not find in sync
        self._last: tuple[str, models.SettingsSpec] | None = None  # previous pass

    def evaluator(self, loaded: Loaded) -> Evaluator:
        sha = loaded.revision.sha
        if self._evaluator is None or self._evaluator[0] != sha:
            self._evaluator = (sha, Evaluator(loaded.bundle, clock=self.clock, revision=sha))
        return self._evaluator[1]

    def reconcile(self, loaded: Loaded, *, trigger: str) -> PassResult:
        run = self._start_run(loaded, trigger=trigger)
        # A pass over many objects allocates many small records that live to its end:
        # collections during it find nothing to free. Afterwards what is still alive (the
        # revision's documents, the statuses, what the controller remembers) will live
        # long: young cycles are collected, then the survivors are moved out of the
        # collector's sight, so later passes do not pay for scanning them again and again.
        paused = gc.isenabled()
        gc.disable()
        try:
            result = self._pass(loaded)
        except ReconcilerError as exc:
            result = PassResult(
                revision=loaded.revision.sha, outcomes=(), orphans=(), error=str(exc)
            )
        except Exception as exc:  # a bug: the run still ends, then the caller logs it
            error = f"{type(exc).__name__}: {exc}"
            self._finish_run(run, PassResult(revision=run.revision or "", outcomes=(),
                                             orphans=(), error=error))
            raise
        finally:
            if paused:
                gc.enable()
                gc.collect(1)
                gc.freeze()
        self._finish_run(run, result)
        return result

    # the pass

    def _pass(self, loaded: Loaded) -> PassResult:
        statuses = self._load_statuses()
        changed = self._changed_paths(loaded)
        targets, touched = self._targets_of(loaded, changed=changed)
        state = _Pass(loaded=loaded, targets=targets, statuses=statuses)
        if changed is None:
            work = list(targets)
        else:  # what the commit touched, and what was not settled before it
            work = sorted(touched | (self._unsettled & targets.keys()))
        state.gone = self._gone(state)
        self._observe(state, [*work, *state.gone])
        pending: list[str] = []
        settled = 0
        for key in work:
            found = self._in_sync_again(state, key)
            if found is _Sync.SETTLED:
                settled += 1
            elif found is _Sync.IN_SYNC:
                target = state.targets[key]
                state.done[key] = resources.Outcome(
                    key=key, result=resources.Result.UNCHANGED, provider=target.provider.name
                )
            else:
                pending.append(key)
        plan = self._plan(state, pending)
        self._run_changes(state, plan)
        outcomes = self._record(state, plan)
        self._last = (state.revision, state.repo)
        return PassResult(
            revision=state.revision,
            outcomes=tuple(outcomes),
            orphans=plan.orphans,
            settled=settled + (len(state.targets) - len(work)),
            incremental=changed is not None,
        )

    def _changed_paths(self, loaded: Loaded) -> set[str] | None:
        """The files changed since the previous pass's revision; None: look at everything
        (no previous pass, the same revision again, or the repository settings changed)."""
        if self._last is None:
            return None
        revision, repo = self._last
        if repo != loaded.snapshot.settings.spec:  # providers, ignore rules or pruning
            self._known = {k: Known(desired=v.desired, applied=v.applied)
                           for k, v in self._known.items()}
            self._targets = None
            return None
        if revision == loaded.revision.sha:
            return None
        try:
            return set(self.loader.changed_paths(revision, loaded.revision.sha))
        except ReconcilerError:
            return None

    def _in_sync_again(self, state: _Pass, key: str) -> _Sync:
        """Whether `key` is in sync, decided without planning it; `PLAN` when unsure."""
        if key in state.errors:
            return _Sync.PLAN
        observed = state.observed[key]
        target = state.targets[key]
        known = self._known.get(key)
        if (
            known is not None
            and known.observed is not None
            and _same(known.desired, target.doc.body)
            and known.observed == observed
        ):
            return _Sync.SETTLED
        # Equal normalised documents stay equal whatever the ignore rules drop from both.
        if observed is not None and target.provider.normalise(target.doc.body, observed) == (
            target.doc.body
        ):
            return _Sync.IN_SYNC
        return _Sync.PLAN

    def _targets_of(
        self, loaded: Loaded, *, changed: set[str] | None
    ) -> tuple[dict[str, Target], set[str]]:
        """The managed objects of `loaded`, and the keys of those in `changed` files."""
        sha = loaded.revision.sha
        if self._targets is not None and self._targets[0] == sha:  # e.g. after a failed pass
            cached = self._targets[1]
            return cached, {k for k, t in cached.items() if changed and t.doc.path in changed}
        if self._targets is None or changed is None:
            found = self._find_targets(loaded, loaded.snapshot.resources)
            self._targets = (sha, found)
            return found, set(found)
        # Files the commit did not touch hold the very same documents: keep their targets.
        found = {k: t for k, t in self._targets[1].items() if t.doc.path not in changed}
        fresh = self._find_targets(
            loaded, [d for d in loaded.snapshot.resources if d.path in changed]
        )
        found.update(fresh)
        self._targets = (sha, found)
        return found, set(fresh)

    def _find_targets(self, loaded: Loaded, docs: Iterable[Document]) -> dict[str, Target]:
        mapping = loaded.snapshot.settings.spec.providers
        providers: dict[tuple[str, str], base.Provider | None] = {}
        found: dict[str, Target] = {}
        for doc in docs:
            kind = (doc.api_version, doc.kind)
            if kind not in providers:
                try:
                    providers[kind] = self.registry.find(doc, mapping=mapping)
                except ProblemsError:
                    providers[kind] = None  # reported by validation of the revision
            provider = providers[kind]
            if provider is not None:
                found[doc.key] = Target(doc=doc, provider=provider)
        return found

    def _load_statuses(self) -> dict[str, ObjectStatus]:
        # This controller is the only writer of its source's statuses: read them once.
        if self._statuses is None:
            self._statuses = {s.key: s for s in self.store.list_status(source=self.name)}
            self._applied = {k for k, s in self._statuses.items() if s.last_applied_revision}
        return self._statuses

    def _gone(self, state: _Pass) -> dict[str, Target]:
        """Objects this daemon applied before that are no longer desired."""
        gone: dict[str, Target] = {}
        for key in sorted(self._applied - state.targets.keys()):
            status = state.statuses[key]
            assert status.last_applied_revision is not None
            if key not in self._gone_docs:
                self._gone_docs[key] = self.loader.document_at(status.last_applied_revision, key)
            doc = self._gone_docs[key]
            provider = self._provider_for(doc, state.loaded) if doc is not None else None
            if doc is not None and provider is not None:
                gone[key] = Target(doc=doc, provider=provider)
        return gone

    def _observe(self, state: _Pass, keys: list[str]) -> None:
        targets = {**state.targets, **state.gone}

        def observe(chunk: list[str]) -> None:
            for key in chunk:
                target = targets[key]
                try:
                    state.observed[key] = target.provider.observe(target.doc)
                except (base.ProviderError, base.ProviderSpecError) as exc:
                    state.errors[key] = exc

        # Chunks: few enough that handing them to the pool costs little, enough to overlap
        # providers that wait on processes or the network.
        size = max(1, len(keys) // (self.settings.provider_concurrency * 4))
        chunks = [keys[i : i + size] for i in range(0, len(keys), size)]
        if len(chunks) == 1:
            observe(chunks[0])
        else:
            list(self.pool.map(observe, chunks))

    def _plan(self, state: _Pass, pending: list[str]) -> planner.Plan:
        """The plan of `pending` objects and the objects that left Git.

        Objects that `pending` ones depend on but are themselves in sync join the plan so
        it can be ordered; they plan as no-ops and are not run again.
        """
        chosen = self._placeable(state, pending)
        wanted = set(pending)
        carried = [k for k in chosen if k not in wanted]
        desired = {k: state.targets[k].doc.body for k in chosen}
        observed = {k: self._normalised(state, k) if k in wanted else desired[k] for k in chosen}
        observed.update({k: state.observed.get(k) for k in state.gone})
        plan = planner.plan(
            desired=desired,
            observed=observed,
            inventory=set(state.gone),
            prune=state.repo.prune,
            rules=ignore.rules_from_settings(state.repo.ignore_differences),
        )
        state.carried.update(carried)
        return plan

    def _placeable(self, state: _Pass, pending: list[str]) -> list[str]:
        """`pending` plus their dependencies; objects with bad ordering annotations (and
        their dependants) get their outcome here and are left out of the plan."""
        chosen: dict[str, tuple[str, ...]] = {}
        queue = list(pending)
        while queue:
            key = queue.pop()
            if key in chosen or key in state.done:
                continue
            target = state.targets[key]
            try:
                deps = order.placement(key=key, body=target.doc.body).depends_on
            except order.DependencyError as exc:
                state.done[key] = self._invalid(state, target, exc.problem(target.doc))
                continue
            missing = next((d for d in deps if d not in state.targets), None)
            if missing is not None:
                problem = _missing_dependency(target.doc, missing)
                state.done[key] = self._invalid(state, target, problem)
                continue
            chosen[key] = deps
            queue.extend(deps)
        return self._without_blocked(state, chosen)

    def _without_blocked(self, state: _Pass, chosen: dict[str, tuple[str, ...]]) -> list[str]:
        changed = True
        while changed:
            changed = False
            for key, deps in list(chosen.items()):
                blocked = next((d for d in deps if d not in chosen), None)
                if blocked is not None:
                    del chosen[key]
                    state.done[key] = _waiting(state.targets[key], blocked)
                    changed = True
        return list(chosen)

    def _normalised(self, state: _Pass, key: str) -> dict[str, Any] | None:
        observed = state.observed.get(key)
        if observed is None:
            return None
        target = state.targets[key]
        return target.provider.normalise(target.doc.body, observed)

    def _run_changes(self, state: _Pass, plan: planner.Plan) -> None:
        evaluator = self.evaluator(state.loaded)
        for change in plan.changes:
            state.changes[change.key] = change
            if change.key in state.done or change.key in state.carried:
                continue  # decided while planning, or an in-sync dependency
            target = state.targets.get(change.key) or state.gone[change.key]
            error = state.errors.get(change.key)
            if error is not None:
                state.done[change.key] = self._observe_failed(state, target, error)
            else:
                step = self._step(state, change, target, evaluator)
                state.done[change.key] = resources.run(step)

    def _step(
        self, state: _Pass, change: planner.Change, target: Target, evaluator: Evaluator
    ) -> resources.Step:
        now = self.clock.now()
        deps = order.deletion_placement(key=change.key, body=change.desired).depends_on
        blocked = next(
            (d for d in deps if d in state.done and state.done[d].result in _NOT_READY), None
        )
        return resources.Step(
            doc=target.doc,
            change=change,
            provider=target.provider,
            drifted=self._drifted(state, change, target.doc),
            self_heal=self.settings.self_heal and state.repo.self_heal,
            backing_off=self.backoff.waiting(change.key, now),
            blocked_dependency=blocked,
            revision=state.revision,
            now=now,
            evaluator=evaluator,
            before_apply=lambda decisions: self._log_decisions(state, change.key, decisions),
        )

    def _log_decisions(self, state: _Pass, key: str, decisions: tuple[Decision, ...]) -> None:
        if decisions:
            self.store.append_decisions(decisions)
        state.logged.add(key)

    def _drifted(self, state: _Pass, change: planner.Change, doc: Document) -> bool:
        """Applied (or found in sync) with this very desired document, yet different now:
        the object was changed outside Git."""
        if change.action not in (planner.Action.UPDATE, planner.Action.CREATE):
            return False
        known = self._recall(change.key, state.statuses.get(change.key))
        return known is not None and known.applied is not None and _same(known.applied, doc.body)

    def _recall(self, key: str, status: ObjectStatus | None) -> Known | None:
        """What is known of `key`; after a restart, rebuilt from its last applied revision."""
        known = self._known.get(key)
        if known is None and status is not None and status.last_applied_revision:
            doc = self.loader.document_at(status.last_applied_revision, key)
            if doc is not None:
                known = self._known[key] = Known(desired=doc.body, applied=doc.body)
        return known

    def _invalid(self, state: _Pass, target: Target, problem: Problem) -> resources.Outcome:
        cond = records.true_condition(
            Type.SPEC_INVALID, Reason.VALIDATION_FAILED, str(problem),
            revision=state.revision, at=self.clock.now(),
        )
        return resources.Outcome(
            key=target.doc.key, result=resources.Result.FAILED, set_conditions=(cond,),
            message=str(problem), provider=target.provider.name,
        )

    def _observe_failed(
        self, state: _Pass, target: Target, error: ReconcilerError
    ) -> resources.Outcome:
        type_, reason = Type.APPLY_FAILED, Reason.PROVIDER_ERROR
        if isinstance(error, base.ProviderTimeout):
            reason = Reason.PROVIDER_TIMEOUT
        elif isinstance(error, base.ProviderSpecError):
            type_, reason = Type.SPEC_INVALID, Reason.VALIDATION_FAILED
        cond = records.true_condition(
            type_, reason, str(error), revision=state.revision, at=self.clock.now()
        )
        return resources.Outcome(
            key=target.doc.key,
            result=resources.Result.FAILED,
            set_conditions=(cond,),
            message=str(error),
            provider=target.provider.name,
        )

    # records

    def _record(self, state: _Pass, plan: planner.Plan) -> list[resources.Outcome]:
        """Persist what the pass did: statuses, decisions, forgotten objects; publish events."""
        now = self.clock.now()
        statuses: list[ObjectStatus] = []
        outcomes = list(state.done.values())
        # Standing outcomes (a denial or a reported drift, as the last pass found it at
        # this revision) are neither logged nor announced again.
        news = [o for o in outcomes if not _standing(o, state.statuses.get(o.key), state.revision)]
        for outcome in outcomes:
            status = self._after(state, outcome, now=now)
            if status is not None and status is not state.statuses.get(outcome.key):
                statuses.append(status)
        orphans = self._orphans(state, plan, now=now)
        statuses += [s for o in orphans if (s := self._orphan_status(state, o, now=now))]
        self.store.append_decisions(
            d for o in news if o.key not in state.logged for d in o.decisions
        )
        self.store.put_statuses(statuses)
        assert self._statuses is not None
        self._statuses.update((s.key, s) for s in statuses)
        self._applied.update(s.key for s in statuses if s.last_applied_revision)
        for key in self._forgotten(state, outcomes):
            self.store.delete_status(key)
            self._statuses.pop(key, None)
            self._known.pop(key, None)
            self._gone_docs.pop(key, None)
            self._applied.discard(key)
            self._unsettled.discard(key)
        for outcome in [*news, *orphans]:
            self._publish(outcome, state)
        return [*outcomes, *orphans]

    def _after(
        self, state: _Pass, outcome: resources.Outcome, *, now: Any
    ) -> ObjectStatus | None:
        key, result = outcome.key, outcome.result
        if result is resources.Result.DELETED:
            self.backoff.succeeded(key)
            return None
        if result is resources.Result.FAILED:
            self.backoff.failed(key, now)
        elif result in (resources.Result.APPLIED, resources.Result.UNCHANGED):
            self.backoff.succeeded(key)
        target = state.targets.get(key) or state.gone[key]
        prev = state.statuses.get(key)
        known = self._recall(key, prev)
        body = target.doc.body
        changed = known is None or not _same(known.desired, body)
        self._remember(state, key, result, body=body, known=known)
        change = state.changes.get(key) or planner.Change(
            action=planner.Action.NOOP, key=key, kind=target.doc.kind
        )
        return records.status_after(
            prev=prev,
            doc=target.doc,
            outcome=outcome,
            change=change,
            source=self.name,
            revision=state.revision,
            at=now,
            desired_changed=changed,
        )

    def _remember(
        self,
        state: _Pass,
        key: str,
        result: resources.Result,
        *,
        body: dict[str, Any],
        known: Known | None,
    ) -> None:
        if result is resources.Result.UNCHANGED and key not in state.errors:
            self._known[key] = Known(desired=body, applied=body, observed=state.observed[key])
            self._unsettled.discard(key)
            return
        applied = body if result is resources.Result.APPLIED else known.applied if known else None
        self._known[key] = Known(desired=body, applied=applied)
        self._unsettled.add(key)

    def _orphans(
        self, state: _Pass, plan: planner.Plan, *, now: Any
    ) -> list[resources.Outcome]:
        return [
            resources.Outcome(
                key=key,
                result=resources.Result.ORPHANED,
                message="removed from Git and left in place: pruning is off",
                provider=state.gone[key].provider.name,
            )
            for key in plan.orphans
        ]

    def _orphan_status(
        self, state: _Pass, outcome: resources.Outcome, *, now: Any
    ) -> ObjectStatus | None:
        prev = state.statuses[outcome.key]
        status = records.orphaned(prev, outcome=outcome, revision=state.revision, at=now)
        return None if status is prev else status

    def _forgotten(self, state: _Pass, outcomes: Iterable[resources.Outcome]) -> list[str]:
        """Deleted objects, and objects that left Git and are absent anyway."""
        deleted = [o.key for o in outcomes if o.result is resources.Result.DELETED]
        vanished = [
            k for k in state.gone
            if k not in state.errors and state.observed.get(k) is None and k not in state.done
        ]
        return deleted + vanished

    def _publish(self, outcome: resources.Outcome, state: _Pass) -> None:
        now = self.clock.now()
        data = {
            "revision": state.revision,
            "result": outcome.result.value,
            "provider": outcome.provider,
        }
        found = [(EventType.DRIFT_DETECTED, outcome.drift)] if outcome.drifted else []
        if outcome.result in _EVENT_OF:
            found.append((_EVENT_OF[outcome.result], outcome.message))
        for type_, message in found:
            self.bus.publish(
                Event(type=type_, at=now, source=self.name, object_key=outcome.key,
                      message=message, data=data)
            )

    def _provider_for(self, doc: Document, loaded: Loaded) -> base.Provider | None:
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
        state = _Pass(loaded=loaded, targets=self._targets_of(loaded, changed=None)[0],
                      statuses={})
        self._observe(state, list(state.targets))
        return {k: v for k, v in state.observed.items() if k not in state.errors}


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    # Unchanged files keep their parsed body object across revisions (the spec cache).
    return a is b or a == b


_STANDING = frozenset({resources.Result.BLOCKED, resources.Result.DRIFT_REPORTED})


def _standing(outcome: resources.Outcome, prev: ObjectStatus | None, revision: str) -> bool:
    if outcome.result not in _STANDING or prev is None or not prev.history:
        return False
    last = prev.history[-1]
    return (last.outcome, last.message, last.revision) == (
        outcome.result.value, outcome.message, revision
    )


def _same_file(old: Document, new: Document) -> bool:
    return old.body is new.body and (old.path, old.line, old.index) == (
        new.path, new.line, new.index
    )


def _waiting(target: Target, dependency: str) -> resources.Outcome:
    return resources.Outcome(
        key=target.doc.key,
        result=resources.Result.WAITING,
        message=f"waiting for {dependency}, which is not ready",
        provider=target.provider.name,
    )


def _missing_dependency(doc: Document, dependency: str) -> Problem:
    return Problem(
        path=doc.path,
        line=doc.line,
        key=f'metadata.annotations["{order.DEPENDS_ON}"]',
        message=f"depends on {dependency}, which is not a managed object of this revision",
    )


def _seconds(duration: str) -> float:
    from reconciler.specs.types import seconds

    return seconds(duration)


__all__ = ["ConditionStatus", "Controller", "PassResult"]
