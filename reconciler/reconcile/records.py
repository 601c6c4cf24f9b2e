"""Build the records a reconcile leaves behind: object statuses and the run of the pass."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import TYPE_CHECKING

from reconciler.conditions import (
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
from reconciler.specs.snapshot import Document
from reconciler.store.base import (
    HistoryEntry,
    ObjectStatus,
    RunRecord,
    RunStatus,
    StepRecord,
    StepStatus,
)

if TYPE_CHECKING:
    from reconciler.reconcile.controller import PassResult

HISTORY = 20
_ATTEMPTED = {Result.APPLIED, Result.BLOCKED, Result.FAILED, Result.DELETED}
_STEP_STATUS = {
    Result.APPLIED: StepStatus.SUCCEEDED,
    Result.DELETED: StepStatus.SUCCEEDED,
    Result.BLOCKED: StepStatus.FAILED,
    Result.FAILED: StepStatus.FAILED,
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


def status_after(
    *,
    prev: ObjectStatus | None,
    doc: Document,
    outcome: Outcome,
    change: Change,
    source: str,
    revision: str,
    at: datetime,
) -> ObjectStatus:
    """The object's status once `outcome` happened to it."""
    conditions = prev.conditions if prev else ()
    for type_ in outcome.cleared:
        conditions = remove_condition(conditions, type_)
    for cond in outcome.set_conditions:
        conditions = set_condition(conditions, cond)
    conditions = summarise_ready(conditions, revision=revision, at=at)
    applied = revision if outcome.result in (Result.APPLIED, Result.UNCHANGED) else None
    history = prev.history if prev else ()
    if outcome.result is not Result.UNCHANGED or not history:
        entry = HistoryEntry(
            at=at, revision=revision, outcome=outcome.result.value, message=outcome.message
        )
        history = (*history, entry)[-HISTORY:]
    return ObjectStatus(
        key=doc.key,
        kind=doc.kind,
        namespace=doc.namespace,
        name=doc.name,
        source=source,
        observed_generation=(prev.observed_generation if prev else 0)
        + (1 if not prev or prev.last_attempted_revision != revision else 0),
        conditions=conditions,
        last_attempted_revision=revision
        if outcome.result in _ATTEMPTED
        else (prev.last_attempted_revision if prev else revision),
        last_applied_revision=applied or (prev.last_applied_revision if prev else None),
        inventory=True,
        last_diff=[item.as_json() for item in change.diff],
        history=history,
        updated_at=at,
    )


def finished_run(
    run: RunRecord, *, result: PassResult, status: RunStatus, at: datetime
) -> RunRecord:
    """The pass's run with one step per object that did something."""
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
    return dataclasses.replace(run, status=status, steps=steps, finished_at=at, error=result.error)


def source_conditions(
    failures: tuple[Condition, ...], *, revision: str | None, at: datetime
) -> tuple[Condition, ...]:
    """A source's conditions: its current failures, and `Ready` summarised from them."""
    conditions: tuple[Condition, ...] = ()
    for cond in failures:
        conditions = set_condition(conditions, cond)
    return summarise_ready(conditions, revision=revision, at=at)
