"""The working state of one reconcile pass, its result, and how it plans its objects.

A pass sorts the objects it looks at: settled (as the last pass found them), in sync again
(decided without planning) or to be planned. `plan` orders the objects to be planned with
the objects they depend on and those that left Git; objects whose ordering annotations are
wrong, or whose dependencies cannot be placed, get their outcome here and stay out of the
plan.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from reconciler.clock import Clock
from reconciler.conditions import Reason, Type
from reconciler.errors import Problem, ReconcilerError
from reconciler.plan import ignore, order, planner
from reconciler.providers import base
from reconciler.reconcile import records, resources
from reconciler.reconcile.memory import Memory
from reconciler.reconcile.revisions import Loaded
from reconciler.reconcile.targets import Observed, Target
from reconciler.specs import models
from reconciler.specs.snapshot import Document
from reconciler.store.intents import ApplyIntent
from reconciler.store.interfaces import ObjectStatus


class Sync(enum.Enum):
    SETTLED = "settled"  # as the last pass found it: no outcome, no status change
    IN_SYNC = "in-sync"  # in sync, found so now: an `unchanged` outcome
    PLAN = "plan"  # to be planned


@dataclass(kw_only=True)
class PassState:
    """The working state of one pass."""

    loaded: Loaded
    targets: Mapping[str, Target]
    statuses: Mapping[str, ObjectStatus]
    observed: Observed = field(default_factory=dict)
    errors: dict[str, ReconcilerError] = field(default_factory=dict)
    done: dict[str, resources.Outcome] = field(default_factory=dict)
    changes: dict[str, planner.Change] = field(default_factory=dict)
    carried: set[str] = field(default_factory=set)  # in-sync dependencies of planned objects
    gone: dict[str, Target] = field(default_factory=dict)
    logged: set[str] = field(default_factory=set)  # objects whose decisions are written
    intents: Mapping[str, ApplyIntent] = field(default_factory=dict)  # left by earlier passes

    @property
    def revision(self) -> str:
        return self.loaded.revision.sha

    @property
    def repo(self) -> models.SettingsSpec:
        return self.loaded.snapshot.settings.spec

    def target(self, key: str) -> Target:
        """The target at `key`, desired or gone from Git."""
        return self.targets.get(key) or self.gone[key]


def in_sync_again(state: PassState, key: str, *, memory: Memory) -> Sync:
    """Whether `key` is in sync, decided without planning it; `PLAN` when unsure."""
    if key in state.errors:
        return Sync.PLAN
    observed = state.observed[key]
    target = state.targets[key]
    if memory.settled(key, desired=target.doc.body, observed=observed):
        return Sync.SETTLED
    # Equal normalised documents stay equal whatever the ignore rules drop from both.
    if observed is not None and target.provider.normalise(target.doc.body, observed) == (
        target.doc.body
    ):
        return Sync.IN_SYNC
    return Sync.PLAN


def plan(state: PassState, pending: list[str], *, clock: Clock) -> planner.Plan:
    """The plan of `pending` objects and the objects that left Git.

    Objects that `pending` ones depend on but are themselves in sync join the plan so
    it can be ordered; they plan as no-ops and are not run again.
    """
    chosen = _placeable(state, pending, clock=clock)
    wanted = set(pending)
    carried = [k for k in chosen if k not in wanted]
    desired = {k: state.targets[k].doc.body for k in chosen}
    observed = {k: _normalised(state, k) if k in wanted else desired[k] for k in chosen}
    observed.update({k: state.observed.get(k) for k in state.gone})
    found = planner.plan(
        desired=desired,
        observed=observed,
        inventory=set(state.gone),
        prune=state.repo.prune,
        rules=ignore.rules_from_settings(state.repo.ignore_differences),
    )
    state.carried.update(carried)
    return found


def depends_on(change: planner.Change) -> tuple[str, ...]:
    """The keys a planned change waits for (none for a delete: see `order`)."""
    return order.deletion_placement(key=change.key, body=change.desired).depends_on


def waves(changes: Iterable[planner.Change]) -> list[list[planner.Change]]:
    """`changes` (in plan order) cut into the runs whose decisions are made durable
    together before any of their applies: one per wave, cut again before a change that
    depends on one earlier in the same run (its gate must see that one's outcome)."""
    found: list[list[planner.Change]] = []
    keys: set[str] = set()
    for change in changes:
        last = found[-1] if found else None
        if last is None or last[-1].wave != change.wave or keys.intersection(depends_on(change)):
            found.append([])
            keys = set()
        found[-1].append(change)
        keys.add(change.key)
    return found


def decided(state: PassState, key: str) -> bool:
    """A pass the daemon's stop cut short decided to apply `key` at this very revision: its
    intent is left, and the gate decisions that allowed it were logged with it (in one
    transaction), so they are not logged again when the change is applied now."""
    left = state.intents.get(key)
    return left is not None and left.revision == state.revision


def _placeable(state: PassState, pending: list[str], *, clock: Clock) -> list[str]:
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
            problem = exc.problem(target.doc)
            state.done[key] = invalid(state, target, problem=problem, at=clock.now())
            continue
        missing = next((d for d in deps if d not in state.targets), None)
        if missing is not None:
            problem = _missing_dependency(target.doc, missing)
            state.done[key] = invalid(state, target, problem=problem, at=clock.now())
            continue
        chosen[key] = deps
        queue.extend(deps)
    return _without_blocked(state, chosen)


def _without_blocked(state: PassState, chosen: dict[str, tuple[str, ...]]) -> list[str]:
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


def _normalised(state: PassState, key: str) -> dict[str, Any] | None:
    observed = state.observed.get(key)
    if observed is None:
        return None
    target = state.targets[key]
    return target.provider.normalise(target.doc.body, observed)


def invalid(
    state: PassState, target: Target, *, problem: Problem, at: datetime
) -> resources.Outcome:
    """The outcome of an object whose spec this pass cannot act on."""
    return _failed(
        state,
        target,
        type_=Type.SPEC_INVALID,
        reason=Reason.VALIDATION_FAILED,
        message=str(problem),
        at=at,
    )


def observe_failed(
    state: PassState, target: Target, *, error: ReconcilerError, at: datetime
) -> resources.Outcome:
    """The outcome of an object whose provider could not observe it."""
    type_, reason = Type.APPLY_FAILED, Reason.PROVIDER_ERROR
    if isinstance(error, base.ProviderTimeout):
        reason = Reason.PROVIDER_TIMEOUT
    elif isinstance(error, base.ProviderSpecError):
        type_, reason = Type.SPEC_INVALID, Reason.VALIDATION_FAILED
    return _failed(state, target, type_=type_, reason=reason, message=str(error), at=at)


def _failed(
    state: PassState,
    target: Target,
    *,
    type_: Type,
    reason: Reason,
    message: str,
    at: datetime,
) -> resources.Outcome:
    cond = records.true_condition(type_, reason, message, revision=state.revision, at=at)
    return resources.Outcome(
        key=target.doc.key,
        result=resources.Result.FAILED,
        set_conditions=(cond,),
        message=message,
        provider=target.provider.name,
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
