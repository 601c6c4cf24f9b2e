"""Runs survive the engine: resume after a crash, cancel, pause and resume."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.run import plans
from reconciler.run import workflow as execution
from reconciler.runstate import RunKind, RunRecord, RunStatus, StepRecord, StepStatus
from reconciler.store import sqlite
from tests.run.helpers import engine, latest, statuses, until, workflow

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _crashed_run(store: sqlite.SqliteStore, tmp_path: Path) -> str:
    """A run as a killed engine leaves it: `a` done, `b` and `c` were running."""
    log = tmp_path / "log"
    spec = workflow(
        [
            {"name": "a", "command": ["sh", "-c", "echo a >> $0", str(log)]},
            {
                "name": "b",
                "dependsOn": ["a"],
                "idempotent": True,
                "command": ["sh", "-c", "echo b >> $0", str(log)],
            },
            {"name": "c", "dependsOn": ["a"], "command": ["sh", "-c", "echo c >> $0", str(log)]},
            {
                "name": "d",
                "dependsOn": ["b", "c"],
                "command": ["echo", "{{ steps.a.outputs.stdout }}"],
            },
        ],
        name="crashy",
    )
    plan = plans.of_workflow(spec, variables={})
    store.create_run(
        RunRecord(
            id="r1",
            kind=RunKind.WORKFLOW,
            name="crashy",
            trigger="manual",
            revision=None,
            status=RunStatus.RUNNING,
            started_at=T0,
            steps=(
                plans.meta_record(plan),
                StepRecord(
                    name="a",
                    status=StepStatus.SUCCEEDED,
                    attempt=1,
                    started_at=T0,
                    finished_at=T0,
                    output={"stdout": "from-a", "exitCode": 0},
                ),
                StepRecord(name="b", status=StepStatus.RUNNING, attempt=1, started_at=T0),
                StepRecord(name="c", status=StepStatus.RUNNING, attempt=1, started_at=T0),
            ),
        )
    )
    return "r1"


@pytest.mark.parametrize("approved", [True, False])
def test_resume_reruns_idempotent_steps_and_asks_about_the_others(
    store: sqlite.SqliteStore, tmp_path: Path, approved: bool
) -> None:
    run_id = _crashed_run(store, tmp_path)

    async def scenario() -> RunRecord:
        eng = engine(store)
        assert await eng.resume_all() == [run_id]
        await until(lambda: eng.waiting(run_id) == ["c"])
        await eng.recorder.flush()
        waiting = await eng.get(run_id)
        assert waiting.status is RunStatus.WAITING
        gate = latest(waiting)["c"]
        assert (gate.status, gate.attempt, gate.error) == (
            StepStatus.WAITING,
            2,
            execution.GATE_MESSAGE,
        )
        await eng.approve(run_id, "c", approver="alice", approved=approved, comment="ok?")
        run = await eng.wait(run_id)
        await eng.close()
        return run

    run = asyncio.run(scenario())
    log = (tmp_path / "log").read_text()
    assert "a" not in log  # finished before the crash: not repeated
    found = latest(run)
    assert (found["b"].attempt, found["b"].status) == (2, StepStatus.SUCCEEDED)
    # the attempts the crash cut short are closed, not left `running` in a finished run
    first = {s.name: s for s in run.steps if s.attempt == 1 and s.name in ("b", "c")}
    assert {n: s.status for n, s in first.items()} == {
        "b": StepStatus.INTERRUPTED,
        "c": StepStatus.INTERRUPTED,
    }
    assert all(s.finished_at is not None and s.finished_at > T0 for s in first.values())
    assert not [s for s in run.steps if s.status is StepStatus.RUNNING]
    if approved:
        assert sorted(log.split()) == ["b", "c"]
        assert found["d"].output["stdout"] == "from-a\n"
        assert run.status is RunStatus.SUCCEEDED
    else:
        assert log.split() == ["b"]
        assert run.error == "step c failed: rejected by alice: ok?"
        assert statuses(run)["d"] is StepStatus.SKIPPED


def test_a_second_restart_while_waiting_asks_again(
    store: sqlite.SqliteStore, tmp_path: Path
) -> None:
    run_id = _crashed_run(store, tmp_path)

    async def first() -> None:
        eng = engine(store)
        await eng.resume_all()
        await until(lambda: eng.waiting(run_id) == ["c"])
        await eng.close()

    async def second() -> RunRecord:
        eng = engine(store)
        assert await eng.resume_all() == [run_id]
        await until(lambda: eng.waiting(run_id) == ["c"])
        await eng.approve(run_id, "c", approver="bob", approved=True)
        run = await eng.wait(run_id)
        await eng.close()
        return run

    asyncio.run(first())
    run = asyncio.run(second())
    assert run.status is RunStatus.SUCCEEDED
    assert (tmp_path / "log").read_text().count("c") == 1


def test_cancel_kills_running_commands(store: sqlite.SqliteStore, tmp_path: Path) -> None:
    spec = workflow(
        [
            {"name": "long", "command": ["sleep", "30"]},
            {"name": "next", "dependsOn": ["long"], "command": ["true"]},
        ]
    )

    async def scenario() -> RunRecord:
        eng = engine(store)
        run_id = await eng.start(spec)
        await until(lambda: "long" in eng._live[run_id].states)
        await asyncio.sleep(0.1)
        await eng.cancel(run_id)
        run = await eng.wait(run_id)
        await eng.close()
        return run

    run = asyncio.run(scenario())
    assert (run.status, run.error) == (RunStatus.CANCELLED, "cancelled")
    assert statuses(run) == {"long": StepStatus.CANCELLED}


def test_pause_holds_new_steps_until_resumed_even_across_a_restart(
    store: sqlite.SqliteStore, tmp_path: Path
) -> None:
    spec = workflow(
        [
            {"name": "first", "command": ["sleep", "0.2"]},
            {"name": "second", "dependsOn": ["first"], "command": ["true"]},
        ]
    )

    async def before_restart() -> str:
        eng = engine(store)
        run_id = await eng.start(spec)
        live = eng._live[run_id]
        await until(lambda: "first" in live.states)
        await eng.pause(run_id)
        await until(lambda: live.states.get("first") is StepStatus.SUCCEEDED)
        await asyncio.sleep(0.05)
        assert "second" not in live.states
        await eng.recorder.flush()
        run = await eng.get(run_id)
        assert (run.status, run.error) == (RunStatus.WAITING, "paused")
        await eng.close()
        return run_id

    async def after_restart(run_id: str) -> RunRecord:
        eng = engine(store)
        assert await eng.resume_all() == [run_id]
        await asyncio.sleep(0.05)
        assert "second" not in eng._live[run_id].states
        await eng.resume(run_id)
        run = await eng.wait(run_id)
        await eng.close()
        return run

    run_id = asyncio.run(before_restart())
    run = asyncio.run(after_restart(run_id))
    assert run.status is RunStatus.SUCCEEDED
    assert statuses(run) == {"first": StepStatus.SUCCEEDED, "second": StepStatus.SUCCEEDED}
    assert replace(run, steps=()).error is None


KILLED = """
import asyncio, sys
from reconciler.clock import SystemClock
from reconciler.run.engine import Engine
from reconciler.specs import flows
from reconciler.store import sqlite
from reconciler.store.retention import RetentionSettings

async def main():
    store = sqlite.SqliteStore(sys.argv[1], retention=RetentionSettings())
    spec = flows.Workflow.model_validate({"apiVersion": "reconciler.dev/v1", "kind": "Workflow",
        "metadata": {"name": "killed"}, "spec": {"steps": [
            {"name": "fast", "command": ["true"]},
            {"name": "slow", "dependsOn": ["fast"], "command": ["sleep", "5"]}]}})
    engine = Engine(store=store, clock=SystemClock())
    run_id = await engine.start(spec)
    print(run_id, flush=True)
    await engine.wait(run_id)

asyncio.run(main())
"""


def test_resume_after_kill_9(store: sqlite.SqliteStore, tmp_path: Path) -> None:
    async def kill_mid_run() -> str:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", KILLED, str(store.path), stdout=asyncio.subprocess.PIPE
        )
        assert proc.stdout is not None
        run_id = (await proc.stdout.readline()).decode().strip()

        def slow_running() -> bool:
            run = store.get_run(run_id)
            return run is not None and statuses(run).get("slow") is StepStatus.RUNNING

        await until(slow_running)
        proc.kill()
        await proc.wait()
        return run_id

    async def resume(run_id: str) -> RunRecord:
        eng = engine(store)
        assert await eng.resume_all() == [run_id]
        await until(lambda: eng.waiting(run_id) == ["slow"])
        await eng.approve(run_id, "slow", approver="ops", approved=False)
        run = await eng.wait(run_id)
        await eng.close()
        return run

    run_id = asyncio.run(kill_mid_run())
    run = asyncio.run(resume(run_id))
    assert run.error == "step slow failed: rejected by ops"
    assert [(s.name, s.attempt, s.status) for s in run.steps if s.name != "#run"] == [
        ("fast", 1, StepStatus.SUCCEEDED),
        ("slow", 1, StepStatus.INTERRUPTED),  # killed, closed at the restart
        ("slow", 2, StepStatus.FAILED),
    ]
