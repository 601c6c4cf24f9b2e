"""The one writer of run records: a run is created started, updated, and ended finished
(a finished status, when, why), each one write of a real SQLite store; ending a run with a
status that is not a finished one is refused and writes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from reconciler import runstate
from reconciler.run.runlog import RunLog
from reconciler.runstate import RunKind, RunStatus, StepRecord, StepStatus
from reconciler.store import sqlite

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_a_run_is_created_updated_and_finished_through_the_log(
    store: sqlite.SqliteStore,
) -> None:
    log = RunLog(store)
    run = runstate.started(
        id="r1", kind=RunKind.WORKFLOW, name="wf", trigger="api", revision=None, at=T0
    )
    log.create(run)
    step = StepRecord(name="a", status=StepStatus.RUNNING, attempt=1, started_at=T0)
    log.step("r1", step)
    assert store.get_run("r1").steps == (step,)

    with pytest.raises(ValueError, match="running is not a finished status"):
        log.finish(run, status=RunStatus.RUNNING, at=T0)
    assert store.get_run("r1").status is RunStatus.PENDING

    done = StepRecord(name="a", status=StepStatus.FAILED, attempt=1, started_at=T0, error="x")
    ended = log.finish(
        run, status=RunStatus.FAILED, at=T0 + timedelta(seconds=5), error="a failed", steps=(done,)
    )
    stored = store.get_run("r1")
    assert stored == ended
    assert (stored.status, stored.finished_at, stored.error) == (
        RunStatus.FAILED,
        T0 + timedelta(seconds=5),
        "a failed",
    )
    assert stored.steps == (done,)
