"""Every producer of runs starts and ends its record through `runstate`, so a run is never
recorded started-and-finished at once, or finished without a finished status and time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from reconciler import runstate
from reconciler.runstate import RunKind, RunStatus, StepRecord, StepStatus

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
T1 = datetime(2026, 3, 1, 12, 5, tzinfo=UTC)


def begun(status: RunStatus = RunStatus.PENDING) -> runstate.RunRecord:
    return runstate.started(
        id="r1",
        kind=RunKind.WORKFLOW,
        name="nightly",
        trigger="cron",
        revision="a" * 40,
        at=T0,
        status=status,
    )


def test_a_started_run_has_its_start_and_nothing_of_an_end() -> None:
    assert begun(RunStatus.RUNNING) == runstate.RunRecord(
        id="r1",
        kind=RunKind.WORKFLOW,
        name="nightly",
        trigger="cron",
        revision="a" * 40,
        status=RunStatus.RUNNING,
        started_at=T0,
    )


@pytest.mark.parametrize("status", sorted(runstate.FINISHED))
def test_a_run_cannot_start_finished(status: RunStatus) -> None:
    with pytest.raises(ValueError) as raised:
        begun(status)
    assert str(raised.value) == f"run 'r1': a run cannot start {status.value}"


def test_a_finished_run_keeps_its_steps_unless_given_others() -> None:
    step = StepRecord(name="backup", status=StepStatus.FAILED, error="exit 1")
    run = runstate.finished(
        begun(), status=RunStatus.FAILED, at=T1, error="step backup failed", steps=(step,)
    )
    assert (run.status, run.started_at, run.finished_at, run.error, run.steps) == (
        RunStatus.FAILED,
        T0,
        T1,
        "step backup failed",
        (step,),
    )
    again = runstate.finished(run, status=RunStatus.CANCELLED, at=T1)
    assert (again.steps, again.error) == ((step,), None)


@pytest.mark.parametrize("status", [RunStatus.PENDING, RunStatus.RUNNING, RunStatus.WAITING])
def test_only_a_finished_status_ends_a_run(status: RunStatus) -> None:
    with pytest.raises(ValueError) as raised:
        runstate.finished(begun(), status=status, at=T1)
    assert str(raised.value) == f"run 'r1': {status.value} is not a finished status"
