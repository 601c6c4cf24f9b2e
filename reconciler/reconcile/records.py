"""Build the records a reconcile leaves behind: object statuses and the run of the pass.

An object's status changes only when something happened to it: an object found in sync
again keeps its status as it was (revisions included), so a pass over thousands of settled
objects writes nothing for them. `observed_generation` counts the desired versions of the
object the daemon has reconciled; history keeps one entry per change of outcome.
"""

from __future__ import annotations

import dataclasses
import functools
from datetime import datetime
from typing import Any

from reconciler import runstate
from reconciler.conditions import (
    FAILURE_TYPES,
    Condition,
    ConditionStatus,
    Reason,
    Type,
    remove_condition,
    set_condition,
    summarise_ready,
)
from reconciler.plan.planner import Change
from reconciler.reconcile.resources import Outcome, Result
from reconciler.reconcile.results import PassResult
from reconciler.runstate import RunRecord, RunStatus, StepRecord, StepStatus
from reconciler.specs.snapshot import Document
from reconciler.store.interfaces import Drift, HistoryEntry, ObjectStatus

HISTORY = 20
# Results at which the revision was tried on the object (the others stopped before trying).
_ATTEMPTED = {Result.APPLIED, Result.UNCHANGED, Result.BLOCKED, Result.FAILED, Result.DELETED}
_IN_SYNC = {Result.APPLIED, Result.UNCHANGED}
_NOT_TRIED = {Result.WAITING: Reason.DEPENDENCY_NOT_READY, Result.BACKING_OFF: Reason.PROGRESSING}
_STEP_STATUS = {
    Result.APPLIED: StepStatus.SUCCEEDED,
    Result.DELETED: StepStatus.SUCCEEDED,
    Result.BLOCKED: StepStatus.FAILED,
    Result.FAILED: StepStatus.FAILED,
    Result.WAITING: StepStatus.SKIPPED,
    Result.DRIFT_REPORTED: StepStatus.SKIPPED,
    Result.BACKING_OFF: StepStatus.WAITING,
}


def true_condition(
    type_: Type, reason: Reason, message: str, *, revision: str | None, at: datetime
) -> Condition:
    return Condition(
        type=type_,
        status=ConditionStatus.TRUE,
        reason=reason,
        message=message,
        observed_revision=revision,
        last_transition_time=at,
    )


def settled(status: ObjectStatus) -> bool:
    """Ready, no failure holds, and in the desired state of its source."""
    return status.inventory and not any(
        c.type in FAILURE_TYPES and c.status is ConditionStatus.TRUE for c in status.conditions
    )


def status_after(
    *,
    prev: ObjectStatus | None,
    doc: Document,
    outcome: Outcome,
    change: Change,
    source: str,
    revision: str,
    at: datetime,
    desired_changed: bool = True,
) -> ObjectStatus:
    """The object's status once `outcome` happened to it.

    `desired_changed`: the desired document differs from the one `prev` describes. An
    object found unchanged whose status was settled and whose desired document is the same
    keeps `prev` itself.
    """
    if (
        outcome.result is Result.UNCHANGED
        and prev is not None
        and not desired_changed
        and settled(prev)
    ):
        return prev
    return ObjectStatus(
        key=doc.key,
        kind=doc.kind,
        namespace=doc.namespace,
        name=doc.name,
        source=source,
        observed_generation=(prev.observed_generation if prev else 0)
        + (1 if desired_changed or prev is None else 0),
        conditions=_conditions(prev, outcome, revision=revision, at=at),
        last_attempted_revision=revision
        if outcome.result in _ATTEMPTED
        else (prev.last_attempted_revision if prev else None),
        last_applied_revision=revision
        if outcome.result in _IN_SYNC
        else (prev.last_applied_revision if prev else None),
        inventory=True,
        applied_changes=_applied_changes(prev, outcome, change),
        drift=_drift(prev, outcome, change, revision=revision, at=at),
        history=_history(
            prev.history if prev else (),
            HistoryEntry(
                at=at, revision=revision, outcome=outcome.result.value, message=outcome.message
            ),
        ),
        updated_at=at,
    )


def _applied_changes(
    prev: ObjectStatus | None, outcome: Outcome, change: Change
) -> list[dict[str, Any]]:
    """The fields the last change from Git changed. Re-applying Git's document over a
    drift changes nothing in Git: that is the drift's record, not this one."""
    if outcome.result is Result.APPLIED and not outcome.drifted:
        return [item.as_json() for item in change.diff]
    return prev.applied_changes if prev else []


def _drift(
    prev: ObjectStatus | None, outcome: Outcome, change: Change, *, revision: str, at: datetime
) -> Drift | None:
    """The latest drift: found in this pass (corrected at once when self-heal applied Git's
    document), still standing, corrected since (the object is in sync), or none."""
    before = prev.drift if prev else None
    if outcome.drifted:
        fields = tuple(item.as_json() for item in change.diff)
        standing = before is not None and before.corrected_at is None and before.fields == fields
        return Drift(
            fields=fields,
            revision=revision,
            detected_at=before.detected_at if before and standing else at,
            corrected_at=at if outcome.result is Result.APPLIED else None,
        )
    if before is not None and before.corrected_at is None and outcome.result in _IN_SYNC:
        return dataclasses.replace(before, corrected_at=at)
    return before


@functools.lru_cache(maxsize=4)
def _ready(revision: str, at: datetime) -> tuple[Condition, ...]:
    return summarise_ready((), revision=revision, at=at)


def _conditions(
    prev: ObjectStatus | None, outcome: Outcome, *, revision: str, at: datetime
) -> tuple[Condition, ...]:
    if (
        not (prev and prev.conditions)
        and not outcome.set_conditions
        and (outcome.result in _IN_SYNC)
    ):
        return _ready(revision, at)  # the common case, shared by every object of a pass
    conditions = prev.conditions if prev else ()
    for type_ in outcome.cleared:
        conditions = remove_condition(conditions, type_)
    for cond in outcome.set_conditions:
        conditions = set_condition(conditions, cond)
    conditions = summarise_ready(conditions, revision=revision, at=at)
    ready = next(c for c in conditions if c.type == Type.READY)
    if ready.status is ConditionStatus.TRUE and outcome.result in _NOT_TRIED:
        # Nothing failed, yet the object is not at this revision: it has not been tried.
        conditions = set_condition(
            conditions,
            dataclasses.replace(
                ready,
                status=ConditionStatus.FALSE,
                reason=_NOT_TRIED[outcome.result],
                message=outcome.message,
            ),
        )
    return conditions


def _history(history: tuple[HistoryEntry, ...], entry: HistoryEntry) -> tuple[HistoryEntry, ...]:
    """`history` with `entry` unless it only repeats the last entry."""
    last = history[-1] if history else None
    if last is not None:
        if entry.outcome == Result.UNCHANGED and last.outcome in _IN_SYNC:
            return history
        same = (last.outcome, last.message) == (entry.outcome, entry.message)
        if same and last.revision == entry.revision:
            return history
    return (*history, entry)[-HISTORY:]


def orphaned(prev: ObjectStatus, *, outcome: Outcome, revision: str, at: datetime) -> ObjectStatus:
    """The status of an object removed from Git and left in place."""
    if not prev.inventory:
        return prev
    entry = HistoryEntry(
        at=at, revision=revision, outcome=outcome.result.value, message=outcome.message
    )
    return dataclasses.replace(
        prev, inventory=False, history=_history(prev.history, entry), updated_at=at
    )


def finished_run(
    run: RunRecord, *, result: PassResult, status: RunStatus, at: datetime
) -> RunRecord:
    """The pass's run with one step per object that had a change to make."""
    steps = tuple(
        StepRecord(
            name=o.key,
            status=_STEP_STATUS[o.result],
            started_at=run.started_at,
            finished_at=at,
            output={"result": o.result.value},
            error=(o.message if o.result in (Result.BLOCKED, Result.FAILED) else None),
        )
        for o in result.outcomes
        if o.result in _STEP_STATUS
    )
    return runstate.finished(run, status=status, at=at, error=result.error, steps=steps)


def source_conditions(
    failures: tuple[Condition, ...], *, revision: str | None, at: datetime
) -> tuple[Condition, ...]:
    """A source's conditions: its current failures, and `Ready` summarised from them."""
    conditions: tuple[Condition, ...] = ()
    for cond in failures:
        conditions = set_condition(conditions, cond)
    return summarise_ready(conditions, revision=revision, at=at)
