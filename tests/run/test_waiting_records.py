"""A step waiting for a human is in the store, not only in the engine that runs it: its
attempt is recorded `waiting` with its question before the engine says it waits, so any
replica sharing the store lists it (`run.asks`); it leaves no `waiting` record once
answered; and an answer-waiting attempt a dead daemon left is closed as interrupted when
the run resumes, the step asking again in a new attempt."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from reconciler.run import asks, recovery
from reconciler.run.steps import base
from reconciler.runstate import RunKind, RunRecord, RunStatus, StepRecord, StepStatus
from reconciler.store import sqlite
from tests.run.helpers import engine, latest, until, workflow
from tests.store.store_factories import at

ASKING = workflow(
    [
        {
            "name": "ok",
            "kind": "approval",
            "approval": {"message": "deploy?", "approvers": ["alice", "role:admin"]},
        },
        {"name": "deploy", "dependsOn": ["ok"], "command": ["true"]},
    ]
)


def _stored(store: sqlite.SqliteStore, run_id: str) -> RunRecord:
    found = store.get_run(run_id)
    assert found is not None
    return found


def test_a_waiting_step_is_recorded_with_its_question_and_cleared_when_answered(
    store: sqlite.SqliteStore,
) -> None:
    async def scenario() -> RunRecord:
        eng = engine(store)
        run_id = await eng.start(ASKING)
        await until(lambda: eng.waiting(run_id) == ["ok"])
        # No flush: the waiting record is durable before the engine says it waits.
        [waiting] = asks.waiting(_stored(store, run_id))
        assert (waiting.name, waiting.attempt, waiting.status) == ("ok", 1, StepStatus.WAITING)
        assert waiting.output == {
            asks.ASKED: {"prompt": "deploy?", "approvers": ["alice", "role:admin"]}
        }
        assert asks.asked(waiting) == base.Ask(prompt="deploy?", approvers=("alice", "role:admin"))
        assert [r.id for r in store.waiting_runs()] == [run_id]
        await eng.approve(run_id, "ok", approver="alice", approved=True)
        run = await eng.wait(run_id)
        await eng.close()
        return run

    run = asyncio.run(scenario())
    assert run.status is RunStatus.SUCCEEDED
    assert asks.waiting(run) == [] and store.waiting_runs() == []
    [ok] = [s for s in run.steps if s.name == "ok"]
    assert (ok.status, ok.output["approver"]) == (StepStatus.SUCCEEDED, "alice")
    assert asks.ASKED not in ok.output


def test_an_attempt_left_waiting_by_a_dead_daemon_is_closed_and_asked_again(
    store: sqlite.SqliteStore,
) -> None:
    async def first() -> tuple[str, StepRecord]:
        eng = engine(store)
        run_id = await eng.start(ASKING)
        await until(lambda: eng.waiting(run_id) == ["ok"])
        [left] = asks.waiting(_stored(store, run_id))
        await eng.close()
        return run_id, left

    run_id, left = asyncio.run(first())
    store.update_step(run_id, left)  # as a kill -9 leaves it: never written back running

    async def second() -> RunRecord:
        eng = engine(store)
        assert await eng.resume_all() == [run_id]
        await until(lambda: eng.waiting(run_id) == ["ok"])
        [asking] = asks.waiting(_stored(store, run_id))
        assert (asking.attempt, asking.status) == (2, StepStatus.WAITING)
        await eng.approve(run_id, "ok", approver="alice", approved=True)
        run = await eng.wait(run_id)
        await eng.close()
        return run

    run = asyncio.run(second())
    attempts = [(s.name, s.attempt, s.status) for s in run.steps if s.name == "ok"]
    assert attempts == [("ok", 1, StepStatus.INTERRUPTED), ("ok", 2, StepStatus.SUCCEEDED)]
    assert latest(run)["deploy"].status is StepStatus.SUCCEEDED


def test_only_the_newest_attempt_of_an_unfinished_run_counts_and_a_gate_waits_on() -> None:
    gate = StepRecord(
        name="c",
        status=StepStatus.WAITING,
        attempt=2,
        started_at=at(1),
        output={recovery.GATE: True},
    )
    asked = StepRecord(
        name="b", status=StepStatus.WAITING, attempt=1, started_at=at(1), output={asks.ASKED: {}}
    )
    stale = replace(gate, attempt=1)
    run = RunRecord(
        id="r1",
        kind=RunKind.WORKFLOW,
        name="wf",
        trigger="api",
        revision=None,
        status=RunStatus.WAITING,
        steps=(stale, asked, gate),
    )
    # in the order the steps were first written: `c` (its stale gate) before `b`
    assert [(s.name, s.attempt) for s in asks.waiting(run)] == [("c", 2), ("b", 1)]
    assert (
        asks.waiting(
            replace(run, steps=(asked, replace(asked, attempt=2, status=StepStatus.RUNNING)))
        )
        == []
    )
    assert asks.waiting(replace(run, status=RunStatus.CANCELLED)) == []
    closed = recovery.interrupted(run, at=at(5))
    assert [(s.name, s.attempt, s.status) for s in closed] == [("b", 1, StepStatus.INTERRUPTED)]
