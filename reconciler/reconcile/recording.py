"""Persisting and announcing what a reconcile pass did.

At the end of a pass its outcomes become statuses and decisions, written in one
transaction so a pass killed half-way leaves complete records, then events, published once
that transaction is committed. Outcomes that stand as the
previous pass left them at the same revision (a denial, a reported drift) are neither logged
nor announced again. The pass itself is a run, started before it and finished after it.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from reconciler import runstate
from reconciler.clock import Clock
from reconciler.events import Bus, Event, EventType
from reconciler.plan import planner
from reconciler.policy.decisions import Action as GateAction
from reconciler.policy.decisions import Decision, Outcome
from reconciler.reconcile import records, resources
from reconciler.reconcile.backoff import Backoff
from reconciler.reconcile.memory import Memory, same
from reconciler.reconcile.passes import PassState
from reconciler.reconcile.results import PassResult
from reconciler.reconcile.revisions import Loaded
from reconciler.run.runlog import RunLog
from reconciler.runstate import RunKind, RunRecord, RunStatus
from reconciler.store.intents import ApplyIntent
from reconciler.store.interfaces import ObjectStatus, Store

_EVENT_OF = {
    resources.Result.APPLIED: EventType.RESOURCE_APPLIED,
    resources.Result.DELETED: EventType.RESOURCE_DELETED,
    resources.Result.BLOCKED: EventType.RESOURCE_BLOCKED,
    resources.Result.FAILED: EventType.RESOURCE_FAILED,
}
_STANDING = frozenset({resources.Result.BLOCKED, resources.Result.DRIFT_REPORTED})


@dataclass(frozen=True, kw_only=True)
class Recorder:
    """Writes the records of one source's passes and publishes their events."""

    source: str
    store: Store
    bus: Bus
    clock: Clock
    memory: Memory
    backoff: Backoff
    log_decisions: Callable[[Iterable[Decision]], int]  # appends with the decisions' inputs

    def record(self, state: PassState, plan: planner.Plan) -> list[resources.Outcome]:
        """Persist what the pass did: statuses, decisions, forgotten objects; publish events."""
        now = self.clock.now()
        statuses: list[ObjectStatus] = []
        # Intents earlier passes left (read when the pass began) and those of this pass's
        # own applies (each logged its decisions first): all settled by these statuses.
        outcomes = [_recovered(o, state.intents, state) for o in state.done.values()]
        intended = {*state.intents, *state.logged}
        news = [o for o in outcomes if not _standing(o, state.statuses.get(o.key), state.revision)]
        for outcome in outcomes:
            status = self._after(state, outcome, now=now)
            if status is not None and status is not state.statuses.get(outcome.key):
                statuses.append(status)
        orphans = _orphans(state, plan)
        statuses += [s for o in orphans if (s := self._orphan_status(state, o, now=now))]
        forgotten = _forgotten(state, outcomes)
        with self.store.batch():  # one transaction: no status without its decisions
            self.log_decisions(d for o in news if o.key not in state.logged for d in o.decisions)
            self.store.put_statuses(statuses)
            self.store.forget_intents(
                self.source, [k for k in intended if k in state.done or k not in state.targets]
            )
            for key in forgotten:
                self.store.delete_status(key)
        self.memory.saved(statuses)
        for key in forgotten:
            self.memory.forget(key)
        for outcome in [*news, *orphans]:
            self._publish(outcome, state)
        return [*outcomes, *orphans]

    def start_run(self, loaded: Loaded, *, trigger: str) -> RunRecord:
        run = runstate.started(
            id=str(uuid.uuid4()),
            kind=RunKind.RECONCILE,
            name=self.source,
            trigger=trigger,
            revision=loaded.revision.sha,
            at=self.clock.now(),
            status=RunStatus.RUNNING,
        )
        RunLog(self.store).create(run)
        return run

    def finish_run(self, run: RunRecord, result: PassResult) -> None:
        status = (
            RunStatus.FAILED
            if result.error or any(o.result is resources.Result.FAILED for o in result.outcomes)
            else RunStatus.SUCCEEDED
        )
        RunLog(self.store).update(
            records.finished_run(run, result=result, status=status, at=self.clock.now())
        )

    def _after(
        self, state: PassState, outcome: resources.Outcome, *, now: datetime
    ) -> ObjectStatus | None:
        key, result = outcome.key, outcome.result
        if result is resources.Result.DELETED:
            self.backoff.succeeded(key)
            return None
        if result is resources.Result.FAILED:
            self.backoff.failed(key, now)
        elif result in (resources.Result.APPLIED, resources.Result.UNCHANGED):
            self.backoff.succeeded(key)
        target = state.target(key)
        prev = state.statuses.get(key)
        known = self.memory.recall(key, prev)
        body = target.doc.body
        changed = known is None or not same(known.desired, body)
        if result is resources.Result.UNCHANGED and key not in state.errors:
            self.memory.in_sync(key, body=body, observed=state.observed[key])
        else:
            applied = result is resources.Result.APPLIED
            self.memory.not_in_sync(key, body=body, applied=applied)
        change = state.changes.get(key) or planner.Change(
            action=planner.Action.NOOP, key=key, kind=target.doc.kind
        )
        return records.status_after(
            prev=prev,
            doc=target.doc,
            outcome=outcome,
            change=change,
            source=self.source,
            revision=state.revision,
            at=now,
            desired_changed=changed,
        )

    def _orphan_status(
        self, state: PassState, outcome: resources.Outcome, *, now: datetime
    ) -> ObjectStatus | None:
        prev = state.statuses[outcome.key]
        status = records.orphaned(prev, outcome=outcome, revision=state.revision, at=now)
        return None if status is prev else status

    def _publish(self, outcome: resources.Outcome, state: PassState) -> None:
        now = self.clock.now()
        data: dict[str, object] = {
            "revision": state.revision,
            "result": outcome.result.value,
            "provider": outcome.provider,
            "denials": [_denial(d) for d in outcome.decisions if d.outcome is not Outcome.ALLOW],
        }
        if outcome.result is resources.Result.BLOCKED:
            data["policies"] = [
                d.policy for d in outcome.decisions if d.action_taken is GateAction.BLOCKED
            ]
        for type_, message in _events_of(outcome):
            self.bus.publish(
                Event(
                    type=type_,
                    at=now,
                    source=self.source,
                    object_key=outcome.key,
                    message=message,
                    data=data,
                )
            )


RECOVERED = "applied by a pass the daemon's stop cut short (found in sync afterwards)"


def _recovered(
    outcome: resources.Outcome, intents: Mapping[str, ApplyIntent], state: PassState
) -> resources.Outcome:
    """An object found in sync that a killed pass meant to apply at this revision, and
    whose status does not say so yet, was applied by that pass: record it as applied."""
    intent = intents.get(outcome.key)
    if outcome.result is not resources.Result.UNCHANGED or intent is None:
        return outcome
    prev = state.statuses.get(outcome.key)
    recorded = prev is not None and prev.last_applied_revision == state.revision
    if intent.revision != state.revision or recorded or outcome.key in state.errors:
        return outcome
    return dataclasses.replace(outcome, result=resources.Result.APPLIED, message=RECOVERED)


def _denial(decision: Decision) -> dict[str, str]:
    """A policy that did not allow the object, as events carry it (the daemon logs it)."""
    return {
        "policy": decision.policy,
        "binding": decision.binding,
        "outcome": decision.outcome.value,
        "action": decision.action_taken.value,
        "explanation": decision.explanation,
    }


def _events_of(outcome: resources.Outcome) -> list[tuple[EventType, str]]:
    """The events of an outcome: a drift, then what was done. Applying Git's document
    over a drift corrects it; that is not a change applied from Git."""
    found = [(EventType.DRIFT_DETECTED, outcome.drift)] if outcome.drifted else []
    if outcome.drifted and outcome.result is resources.Result.APPLIED:
        found.append((EventType.DRIFT_CORRECTED, _corrected(outcome.drift)))
    elif outcome.result in _EVENT_OF:
        found.append((_EVENT_OF[outcome.result], outcome.message))
    return found


def _corrected(drift: str) -> str:
    fields = drift.removeprefix("changed outside Git: ")
    return (
        "recreated from Git: it was missing" if fields == drift else f"restored from Git: {fields}"
    )


def _standing(outcome: resources.Outcome, prev: ObjectStatus | None, revision: str) -> bool:
    """A denial or a reported drift, as the last pass found it at this very revision."""
    if outcome.result not in _STANDING or prev is None or not prev.history:
        return False
    last = prev.history[-1]
    return (last.outcome, last.message, last.revision) == (
        outcome.result.value,
        outcome.message,
        revision,
    )


def _orphans(state: PassState, plan: planner.Plan) -> list[resources.Outcome]:
    return [
        resources.Outcome(
            key=key,
            result=resources.Result.ORPHANED,
            message="removed from Git and left in place: pruning is off",
            provider=state.gone[key].provider.name,
        )
        for key in plan.orphans
    ]


def _forgotten(state: PassState, outcomes: Iterable[resources.Outcome]) -> list[str]:
    """Deleted objects, and objects that left Git and are absent anyway."""
    deleted = [o.key for o in outcomes if o.result is resources.Result.DELETED]
    vanished = [
        k
        for k in state.gone
        if k not in state.errors and state.observed.get(k) is None and k not in state.done
    ]
    return deleted + vanished
