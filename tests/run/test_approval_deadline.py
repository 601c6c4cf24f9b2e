"""An approval's deadline counts from the step's first start, across restarts of the
daemon, and an unanswered approval takes the step's declared default."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from reconciler.clock import ManualClock
from reconciler.run import plans
from reconciler.runstate import RunKind, RunRecord, RunStatus, StepRecord, StepStatus
from reconciler.store import sqlite
from tests.run.helpers import engine, latest, workflow

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _interrupted_approval(store: sqlite.SqliteStore, *, on_timeout: str) -> str:
    """A run whose approval (timeout 1h) started at T0 when the daemon stopped."""
    spec = workflow(
        [
            {
                "name": "ask",
                "kind": "approval",
                "approval": {"message": "go?", "timeout": "1h", "onTimeout": on_timeout},
            },
            {"name": "after", "dependsOn": ["ask"], "command": ["true"]},
        ]
    )
    plan = plans.of_workflow(spec, variables={})
    store.create_run(
        RunRecord(
            id="r1",
            kind=RunKind.WORKFLOW,
            name="wf",
            trigger="manual",
            revision=None,
            status=RunStatus.WAITING,
            started_at=T0,
            steps=(
                plans.meta_record(plan),
                StepRecord(name="ask", status=StepStatus.RUNNING, attempt=1, started_at=T0),
            ),
        )
    )
    return "r1"


@pytest.mark.parametrize(
    ("on_timeout", "ask", "after"),
    [
        ("reject", StepStatus.FAILED, StepStatus.SKIPPED),
        ("approve", StepStatus.SUCCEEDED, StepStatus.SUCCEEDED),
    ],
)
def test_a_restarted_approval_keeps_its_deadline_and_takes_the_default(
    store: sqlite.SqliteStore, on_timeout: str, ask: StepStatus, after: StepStatus
) -> None:
    run_id = _interrupted_approval(store, on_timeout=on_timeout)
    clock = ManualClock(T0 + timedelta(minutes=50))
    waited: list[float] = []

    async def sleep(seconds: float) -> None:
        waited.append(seconds)  # the wait ends at once: nobody answered

    async def scenario() -> RunRecord:
        eng = engine(store, clock=clock, sleep=sleep)
        assert await eng.resume_all() == [run_id]
        run = await eng.wait(run_id)
        await eng.close()
        return run

    run = asyncio.run(scenario())
    assert waited[0] == pytest.approx(600)  # what was left of the hour, not a new hour
    steps = latest(run)
    assert (steps["ask"].status, steps["after"].status) == (ask, after)
    assert steps["ask"].output["approver"] == "timeout"
    assert steps["ask"].output["expired"] is True
    if on_timeout == "reject":
        assert steps["ask"].error == "no approval within 1h; default: reject"


def test_an_approval_past_its_deadline_at_restart_expires_at_once(
    store: sqlite.SqliteStore,
) -> None:
    run_id = _interrupted_approval(store, on_timeout="reject")
    waited: list[float] = []

    async def sleep(seconds: float) -> None:
        waited.append(seconds)

    async def scenario() -> RunRecord:
        eng = engine(store, clock=ManualClock(T0 + timedelta(hours=3)), sleep=sleep)
        await eng.resume_all()
        run = await eng.wait(run_id)
        await eng.close()
        return run

    run = asyncio.run(scenario())
    assert waited[0] == 0
    assert run.status is RunStatus.FAILED
