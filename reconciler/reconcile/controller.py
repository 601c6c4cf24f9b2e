"""One reconcile pass of a source: observe, plan, gate, apply, record.

Runs on the source's worker thread (it owns the regorus engine of the revision). Provider
reads fan out on a shared thread pool; changes are applied in plan order (waves, then
`dependsOn`). The decisions and apply intents of a wave are one transaction, committed
before its first provider call; the statuses and remaining decisions of a pass are one
more at its end, so a pass killed half-way leaves complete records and the next pass
converges from what is really there: a change whose intent a killed pass left at the
same revision is applied under the decisions that pass logged, not logged again.

Two shortcuts keep a pass over thousands of settled objects cheap, and both only skip work
whose answer is already known:
- a pass at a new revision reconciles the objects whose desired document changed (or that
  are not settled, or that left Git): the files it changed are told by their blob ids, and
  only those objects are observed; the others were in sync at the previous revision and
  their desired document is the very same, so only a pass the interval triggers (drift
  detection is due) observes every object, whatever its revision;
- an object whose desired document and observed state are both equal to those of the pass
  that last found it in sync is in sync again: it is not normalised, diffed or planned.

The parts of a pass live beside this module: `targets` (the managed objects and observing
them), `memory` (what is remembered between passes), `passes` (the pass state, sorting and
planning) and `recording` (statuses, decisions, events and the run).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from reconciler.clock import Clock
from reconciler.conditions import ConditionStatus
from reconciler.errors import ReconcilerError
from reconciler.events import Bus
from reconciler.plan import planner
from reconciler.policy.decisions import Decision
from reconciler.policy.evaluate import Evaluator
from reconciler.policy.pool import EvaluationPool
from reconciler.providers.registry import Registry
from reconciler.reconcile import effective, passes, resources, targets, violations
from reconciler.reconcile.backoff import Backoff
from reconciler.reconcile.memory import Memory, same
from reconciler.reconcile.passes import PassState, Sync
from reconciler.reconcile.recording import Recorder
from reconciler.reconcile.results import PassResult
from reconciler.reconcile.revisions import Loaded, SourceLoader
from reconciler.reconcile.settings import NO_FLAGS, Flags, ReconcileSettings
from reconciler.specs import models, types
from reconciler.specs.snapshot import Document
from reconciler.store.intents import ApplyIntent
from reconciler.store.interfaces import Store

DRIFT_CHECK = "interval"  # the trigger of the passes that observe every object
_NOT_READY = {
    resources.Result.BLOCKED,
    resources.Result.FAILED,
    resources.Result.WAITING,
    resources.Result.BACKING_OFF,
    resources.Result.DRIFT_REPORTED,
}


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
        flags: Flags = NO_FLAGS,
        evaluations: EvaluationPool | None = None,
    ) -> None:
        """`evaluations`: the worker processes large batches of documents are evaluated on
        (None: every evaluation on the source's thread)."""
        self.name, self.loader, self.registry, self.store = name, loader, registry, store
        self.bus, self.clock, self.settings, self.pool = bus, clock, settings, pool
        self.flags, self.evaluations = flags, evaluations
        self.backoff = Backoff(
            base=types.seconds(settings.backoff.base), maximum=types.seconds(settings.backoff.max)
        )
        self.memory = Memory(loader=loader)
        self.recorder = Recorder(
            source=name,
            store=store,
            bus=bus,
            clock=clock,
            memory=self.memory,
            backoff=self.backoff,
            log_decisions=self.log_decisions,
        )
        self.violations = violations.Violations(
            source=name, bus=bus, clock=clock, log_decisions=self.log_decisions
        )
        self._evaluator: tuple[str, Evaluator] | None = None
        self._inputs: dict[str, str] = {}  # inputs of decisions not logged yet, by digest
        self._targets = targets.Targets(registry)
        self._last: _Last | None = None  # the previous pass

    def release(self) -> None:
        """Drop the evaluator (and its regorus engine); call on the thread that built it."""
        self._evaluator = None

    def evaluator(self, loaded: Loaded) -> Evaluator:
        sha = loaded.revision.sha
        if self._evaluator is None or self._evaluator[0] != sha:
            self._evaluator = (
                sha,
                Evaluator(loaded.bundle, clock=self.clock, revision=sha, keep_inputs=True),
            )
        return self._evaluator[1]

    def reconcile(self, loaded: Loaded, *, trigger: str) -> PassResult:
        self.registry.serve_programs(loaded.programs)
        run = self.recorder.start_run(loaded, trigger=trigger)
        self._inputs.clear()  # inputs of standing outcomes, never logged, are not kept
        try:
            result = self._pass(loaded, drift_due=DRIFT_CHECK in trigger.split(","))
        except ReconcilerError as exc:
            result = PassResult(
                revision=loaded.revision.sha, outcomes=(), orphans=(), error=str(exc)
            )
        except Exception as exc:  # a bug: the run still ends, then the caller logs it
            error = f"{type(exc).__name__}: {exc}"
            self.recorder.finish_run(
                run, PassResult(revision=run.revision or "", outcomes=(), orphans=(), error=error)
            )
            raise
        self.recorder.finish_run(run, result)
        return result

    def observed_of(self, loaded: Loaded) -> dict[str, dict[str, Any] | None]:
        """Observed state of every managed object (for audits and simulations)."""
        self.registry.serve_programs(loaded.programs)
        state = PassState(
            loaded=loaded, targets=self._targets.of(loaded, changed=None)[0], statuses={}
        )
        self._observe(state, list(state.targets))
        return {k: v for k, v in state.observed.items() if k not in state.errors}

    # the pass

    def _pass(self, loaded: Loaded, *, drift_due: bool) -> PassResult:
        statuses = self.memory.load_statuses(store=self.store, source=self.name)
        changed = self._changed_paths(loaded)
        found, touched = self._targets.of(loaded, changed=changed)
        state = PassState(loaded=loaded, targets=found, statuses=statuses)
        state.intents = self.store.apply_intents(self.name)
        if changed is None or drift_due:
            work = list(found)
        else:  # what the commit touched, and what was not settled before it
            work = sorted(touched | (self.memory.unsettled & found.keys()))
        state.gone = self._gone(state)
        self._observe(state, [*work, *state.gone])
        pending, settled = self._sort(state, work)
        plan = passes.plan(state, pending, clock=self.clock)
        self._run_changes(state, plan)
        self._check_new_revision(state, changed=changed)
        outcomes = self.recorder.record(state, plan)
        self._last = _Last(revision=state.revision, repo=state.repo, files=loaded.snapshot.files)
        return PassResult(
            revision=state.revision,
            outcomes=tuple(outcomes),
            orphans=plan.orphans,
            settled=settled + (len(state.targets) - len(work)),
            incremental=changed is not None,
            violations=self.violations.standing({d.key for d in loaded.snapshot.resources}),
        )

    def _check_new_revision(self, state: PassState, *, changed: set[str] | None) -> None:
        """At a revision new to this controller, evaluate the documents whose change the
        gate did not see in this pass (unmanaged kinds, objects in sync)."""
        if self._last is not None and self._last.revision == state.revision:
            return
        gated = {o.key for o in state.done.values() if o.decisions}
        docs = violations.to_check(state.loaded, changed=changed, gated=gated)
        observed = {d.key: self._observed_or_known(state, d.key) for d in docs}
        self.violations.check(self._outside_gate(state.loaded, docs, observed), state.revision)

    def _observed_or_known(self, state: PassState, key: str) -> dict[str, Any] | None:
        """Observed state of `key` in the pass; as last found in sync if it did not observe it."""
        if key in state.observed:
            return state.observed[key]
        known = self.memory.known.get(key)
        return None if known is None else known.observed

    def audit(self, loaded: Loaded) -> int:
        """Evaluate every document over its observed state, outside the gate; returns how
        many documents violate a policy."""
        docs = loaded.snapshot.resources
        decisions = self._outside_gate(loaded, docs, self.observed_of(loaded))
        return self.violations.check(decisions, loaded.revision.sha)

    def _outside_gate(
        self,
        loaded: Loaded,
        docs: Sequence[Document],
        observed: Mapping[str, dict[str, Any] | None],
    ) -> list[Decision]:
        """The decisions on `docs` outside the gate: on the worker processes when there are
        enough of them to be worth it, else on this thread."""
        sha = loaded.revision.sha
        if self.evaluations is not None and self.evaluations.worth(len(docs)):
            found = self.evaluations.evaluate(
                loaded.bundle,
                docs,
                observed=observed,
                revision=sha,
                clock=self.clock,
                keep_inputs=True,
            )
            self._inputs.update(found.inputs)
            return found.decisions
        evaluator = self.evaluator(loaded)
        return [
            d
            for doc in docs
            for d in evaluator.evaluate(doc, observed=observed.get(doc.key), gate=False)
        ]

    def _sort(self, state: PassState, work: list[str]) -> tuple[list[str], int]:
        """The keys of `work` to plan, and how many are settled; in-sync ones are done."""
        pending: list[str] = []
        settled = 0
        for key in work:
            found = passes.in_sync_again(state, key, memory=self.memory)
            if found is Sync.SETTLED:
                settled += 1
            elif found is Sync.IN_SYNC:
                target = state.targets[key]
                state.done[key] = resources.in_sync(key, provider=target.provider.name)
            else:
                pending.append(key)
        return pending, settled

    def _changed_paths(self, loaded: Loaded) -> set[str] | None:
        """The files changed since the previous pass's revision; None: look at everything
        (no previous pass, the same revision again, or the repository settings changed)."""
        if self._last is None:
            return None
        if self._last.repo != loaded.snapshot.settings.spec:  # providers, ignore rules, pruning
            self.memory.forget_observed()
            self._targets.reset()
            return None
        if self._last.revision == loaded.revision.sha:
            return None
        return loaded.snapshot.changed_since(self._last.files)

    def _gone(self, state: PassState) -> dict[str, targets.Target]:
        """Objects this daemon applied before that are no longer desired."""
        gone: dict[str, targets.Target] = {}
        for key in sorted(self.memory.applied - state.targets.keys()):
            doc = self.memory.last_applied(key)
            provider = self._targets.provider_for(doc, state.loaded) if doc is not None else None
            if doc is not None and provider is not None:
                gone[key] = targets.Target(doc=doc, provider=provider)
        return gone

    def _observe(self, state: PassState, keys: list[str]) -> None:
        observed, errors = targets.observe(
            targets={**state.targets, **state.gone},
            keys=keys,
            pool=self.pool,
            concurrency=self.settings.provider_concurrency,
        )
        state.observed.update(observed)
        state.errors.update(errors)

    def _run_changes(self, state: PassState, plan: planner.Plan) -> None:
        evaluator = self.evaluator(state.loaded)
        for wave in passes.waves(plan.changes):
            allowed: list[tuple[resources.ObjectWork, resources.Allowed]] = []
            for change in wave:
                state.changes[change.key] = change
                if change.key in state.done or change.key in state.carried:
                    continue  # decided while planning, or an in-sync dependency
                target = state.target(change.key)
                error = state.errors.get(change.key)
                if error is not None:
                    at = self.clock.now()
                    state.done[change.key] = passes.observe_failed(
                        state, target, error=error, at=at
                    )
                    continue
                step = self._step(state, change, target, evaluator)
                found = resources.check(step)
                if isinstance(found, resources.Outcome):
                    state.done[change.key] = found
                else:
                    allowed.append((step, found))
            self._log_decisions(state, [(w.change.key, a.decisions) for w, a in allowed])
            for step, found in allowed:  # in plan order: ties in a wave go by key
                state.done[step.change.key] = resources.apply(step, found)

    def _step(
        self,
        state: PassState,
        change: planner.Change,
        target: targets.Target,
        evaluator: Evaluator,
    ) -> resources.ObjectWork:
        now = self.clock.now()
        deps = passes.depends_on(change)
        blocked = next(
            (d for d in deps if d in state.done and state.done[d].result in _NOT_READY), None
        )
        return resources.ObjectWork(
            doc=target.doc,
            change=change,
            provider=target.provider,
            drifted=self._drifted(state, change, target.doc),
            self_heal=effective.self_heal(
                flags=self.flags, reconcile=self.settings, repo=state.repo
            ).value,
            backing_off=self.backoff.waiting(change.key, now),
            blocked_dependency=blocked,
            revision=state.revision,
            now=now,
            evaluator=evaluator,
        )

    def _log_decisions(
        self, state: PassState, allowed: list[tuple[str, tuple[Decision, ...]]]
    ) -> None:
        # The decisions that let a provider change an object are each logged, repeats
        # included: they are the record of what allowed that change. The intent to apply
        # is recorded too, so a change a kill cuts off from its status is not lost. A
        # wave's decisions and intents are one transaction, committed before any of its
        # providers is called. A change a killed pass decided at this very revision
        # (`passes.decided`: its intent is left) had its decisions logged in that pass's
        # wave: they stand for the apply made now, and none is logged again, so each
        # apply follows exactly one logged gate even when a kill lands between a wave's
        # commit and its applies.
        if not allowed:
            return
        at = self.clock.now()
        fresh = [d for key, found in allowed if not passes.decided(state, key) for d in found]
        with self.store.batch():
            self.log_decisions(fresh, changes_only=False)
            self.store.intend_apply(
                ApplyIntent(key=key, source=self.name, revision=state.revision, at=at)
                for key, _ in allowed
            )
        state.logged.update(key for key, _ in allowed)

    def log_decisions(self, decisions: Iterable[Decision], *, changes_only: bool = True) -> int:
        """Append decisions to the log, with the inputs they were made on (for replay);
        returns how many. `changes_only`: only those that differ from the latest one for
        their (policy, resource), so passes and audits that find the same add nothing."""
        chosen = list(decisions)
        if not chosen:
            return 0
        if self._evaluator:
            self._inputs.update(self._evaluator[1].pop_inputs())
        wanted = {d.input_digest for d in chosen}
        inputs = {k: self._inputs.pop(k) for k in wanted if k in self._inputs}
        return self.store.append_decisions(chosen, inputs=inputs, changes_only=changes_only)

    def _drifted(self, state: PassState, change: planner.Change, doc: Document) -> bool:
        """Applied (or found in sync) with this very desired document, yet different now:
        the object was changed outside Git."""
        if change.action not in (planner.Action.UPDATE, planner.Action.CREATE):
            return False
        known = self.memory.recall(change.key, state.statuses.get(change.key))
        return known is not None and known.applied is not None and same(known.applied, doc.body)


@dataclass(frozen=True, kw_only=True)
class _Last:
    """What a pass needs of the pass before it."""

    revision: str
    repo: models.SettingsSpec
    files: Mapping[str, str]  # the blob id of each file of its revision, by path


__all__ = ["ConditionStatus", "Controller", "PassResult"]
