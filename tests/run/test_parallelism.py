"""Independent steps run side by side, within the run's and the engine's limits."""

from __future__ import annotations

import asyncio
import time

import pytest

from reconciler.errors import StalledError
from reconciler.run import dag, plans
from reconciler.run.steps import base
from reconciler.runstate import RunStatus, StepRecord
from reconciler.specs import flows
from reconciler.store import sqlite
from tests.run.helpers import engine, run_to_end, workflow

SLEEP = 0.3


def _fan_out(width: int, *, parallelism: int) -> flows.Workflow:
    return workflow(
        [{"name": f"s{i}", "command": ["sleep", str(SLEEP)]} for i in range(width)],
        maxParallelism=parallelism,
    )


def _overlap(records: list[StepRecord]) -> int:
    """The most steps that were running at the same moment."""
    edges = sorted(
        [(r.started_at, 1) for r in records] + [(r.finished_at, -1) for r in records],
        key=lambda e: (e[0], e[1]),
    )
    most = current = 0
    for _, delta in edges:
        current += delta
        most = max(most, current)
    return most


def test_a_parallel_run_is_shorter_than_the_serial_sum(store: sqlite.SqliteStore) -> None:
    spec = _fan_out(4, parallelism=4)
    started = time.monotonic()
    run = asyncio.run(run_to_end(store, spec))
    elapsed = time.monotonic() - started
    assert run.status is RunStatus.SUCCEEDED
    assert elapsed < 0.8 * 4 * SLEEP


@pytest.mark.parametrize(("parallelism", "slots"), [(2, None), (4, 1)])
def test_limits_bound_how_many_steps_run_at_once(
    store: sqlite.SqliteStore, parallelism: int, slots: int | None
) -> None:
    limits = base.Limits(global_slots=None if slots is None else asyncio.Semaphore(slots))
    spec = _fan_out(4, parallelism=parallelism)
    run = asyncio.run(run_to_end(store, spec, limits=limits))
    done = [r for r in run.steps if r.finished_at is not None]
    assert len(done) == 4
    assert _overlap(done) == (slots or parallelism)


def test_the_global_semaphore_is_shared_by_runs(store: sqlite.SqliteStore) -> None:
    async def scenario() -> list[StepRecord]:
        eng = engine(store, limits=base.Limits(global_slots=asyncio.Semaphore(2)))
        ids = [await eng.start(_fan_out(2, parallelism=2)) for _ in range(3)]
        runs = [await eng.wait(i) for i in ids]
        await eng.close()
        return [r for run in runs for r in run.steps if r.finished_at is not None]

    assert _overlap(asyncio.run(scenario())) == 2


def test_a_cycle_is_refused_naming_it(store: sqlite.SqliteStore) -> None:
    steps = [
        flows.Step(name="a", command=["true"], depends_on=["c"]),
        flows.Step(name="b", command=["true"], depends_on=["a"]),
        flows.Step(name="c", command=["true"], depends_on=["b"]),
    ]
    with pytest.raises(dag.GraphError) as caught:
        dag.build(steps)
    assert str(caught.value) == "cycle: a -> c -> b -> a"
    spec = workflow([{"name": "a", "command": ["true"]}])
    cyclic = spec.model_copy(update={"spec": spec.spec.model_copy(update={"steps": steps})})

    async def scenario() -> None:
        eng = engine(store)
        with pytest.raises(StalledError) as refused:
            await eng.start(cyclic)
        assert str(refused.value) == "cycle: a -> c -> b -> a"
        await eng.close()

    asyncio.run(scenario())
    assert store.list_runs() == []


def test_branch_targets_must_depend_on_their_decision() -> None:
    spec = workflow(
        [
            {"name": "d", "kind": "decision", "decision": {"when": "true", "then": ["x"]}},
            {"name": "x", "command": ["true"]},
        ]
    )
    with pytest.raises(dag.GraphError) as caught:
        plans.of_workflow(spec, variables={})
    assert str(caught.value) == 'step "x" is a branch of "d" and must depend on it'


def test_levels_group_what_can_run_together() -> None:
    spec = workflow(
        [
            {"name": "a", "command": ["true"]},
            {"name": "b", "command": ["true"]},
            {"name": "c", "dependsOn": ["a", "b"], "command": ["true"]},
            {"name": "d", "dependsOn": ["a"], "command": ["true"]},
        ]
    )
    assert dag.build(spec.spec.steps).levels() == [["a", "b"], ["c", "d"]]
