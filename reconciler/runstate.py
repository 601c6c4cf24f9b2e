"""What a run is, whoever starts it: its kind, its status, its steps' attempts.

Reconcile passes, workflows, runbooks, remediations and simulations all leave the same
`RunRecord`, so the dashboard, the API, retention and resume-after-restart read one shape;
each producer starts its record with `started` and ends it with `finished`. These records
sit below the store, which keeps them, and below the engine, which writes them: nothing
here imports another part of the daemon.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class RunKind(StrEnum):
    RECONCILE = "reconcile"
    WORKFLOW = "workflow"
    RUNBOOK = "runbook"
    REMEDIATION = "remediation"
    OPTIMIZATION = "optimization"
    SIMULATION = "simulation"


class RunStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    WAITING = "waiting"  # for an approval, a wait step or a retry delay


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    WAITING = "waiting"
    SKIPPED = "skipped"  # a dependency failed and the step is not `always`
    INTERRUPTED = "interrupted"  # the daemon died during this attempt (finished_at: found so)


FINISHED = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED})
"""Run statuses that never change again; only these runs are pruned by retention."""


@dataclass(frozen=True, kw_only=True)
class StepRecord:
    """One attempt of one step of a run; (run id, name, attempt) identifies it."""

    name: str
    status: StepStatus
    attempt: int = 1
    started_at: datetime | None = None
    finished_at: datetime | None = None
    output: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class RunRecord:
    """One execution of any kind; `steps` are its step attempts, in the order first written."""

    id: str
    kind: RunKind
    name: str
    trigger: str
    revision: str | None
    status: RunStatus
    steps: tuple[StepRecord, ...] = ()  # in the order they were first written
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None


def started(
    *,
    id: str,
    kind: RunKind,
    name: str,
    trigger: str,
    revision: str | None,
    at: datetime,
    status: RunStatus = RunStatus.PENDING,
) -> RunRecord:
    """A run as every producer first records it: not finished, no error, no steps yet."""
    if status in FINISHED:
        raise ValueError(f"run {id!r}: a run cannot start {status.value}")
    return RunRecord(
        id=id,
        kind=kind,
        name=name,
        trigger=trigger,
        revision=revision,
        status=status,
        started_at=at,
    )


def finished(
    run: RunRecord,
    *,
    status: RunStatus,
    at: datetime,
    error: str | None = None,
    steps: tuple[StepRecord, ...] | None = None,
) -> RunRecord:
    """`run` as it ends: a finished status, when, why it failed (if it did), and the steps
    to record with it (None: those it carries)."""
    if status not in FINISHED:
        raise ValueError(f"run {run.id!r}: {status.value} is not a finished status")
    return dataclasses.replace(
        run,
        status=status,
        finished_at=at,
        error=error,
        steps=run.steps if steps is None else steps,
    )
