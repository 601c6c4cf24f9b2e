"""Overhead and parallelism of the workflow engine, store writes included.

Three scenarios on a fresh SQLite store each:

1. a 1,000-step DAG of no-op steps (`wait 0s`; each step depends on up to two of the 20
   steps before it; `maxParallelism` 50), and the same 1,000 steps as one serial chain:
   engine overhead per run and per step, against a baseline of plain asyncio running the
   same DAG (a task per step awaiting its dependencies under the same parallelism limit,
   no store);
2. a 50-wide fan-out of 0.2 s sleep steps with `maxParallelism` 10: the speedup against
   the serial sum, and the time against the ideal width / parallelism * 0.2 s;
3. 1,000 workflow runs of 3 short steps each, started together: throughput, p99 run
   latency, peak RSS, and a check that every step of every run was recorded exactly once.

Ratios are ours / baseline, lower is better.

    python benchmarks/workflow_dag.py [--steps 1000] [--runs 1000] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import timing

from reconciler.clock import SystemClock
from reconciler.run import history
from reconciler.run.engine import Engine
from reconciler.runstate import RunStatus, StepStatus
from reconciler.specs import flows
from reconciler.store import sqlite
from reconciler.store.retention import RetentionSettings


def spec(steps: list[dict[str, Any]], *, name: str, parallelism: int) -> flows.Workflow:
    return flows.Workflow.model_validate(
        {
            "apiVersion": "reconciler.dev/v1",
            "kind": "Workflow",
            "metadata": {"name": name},
            "spec": {"maxParallelism": parallelism, "steps": steps},
        }
    )


def noop(name: str, deps: list[str]) -> dict[str, Any]:
    return {"name": name, "kind": "wait", "wait": {"duration": "0s"}, "dependsOn": deps}


def random_dag(count: int) -> list[dict[str, Any]]:
    rng = random.Random(7)
    steps = []
    for i in range(count):
        window = list(range(max(0, i - 20), i))
        deps = [f"s{j}" for j in rng.sample(window, min(len(window), rng.randint(0, 2)))]
        steps.append(noop(f"s{i}", deps))
    return steps


def chain(count: int) -> list[dict[str, Any]]:
    return [noop(f"s{i}", [f"s{i - 1}"] if i else []) for i in range(count)]


async def plain_dag(steps: list[dict[str, Any]], *, parallelism: int) -> int:
    """The baseline: the same DAG on plain asyncio, a task per step, no engine, no store."""
    done = {step["name"]: asyncio.Event() for step in steps}
    limit = asyncio.Semaphore(parallelism)

    async def one(step: dict[str, Any]) -> None:
        for dep in step["dependsOn"]:
            await done[dep].wait()
        async with limit:
            await asyncio.sleep(0)
        done[step["name"]].set()

    await asyncio.gather(*(one(step) for step in steps))
    return len(done)


def new_store(folder: Path, name: str) -> sqlite.SqliteStore:
    return sqlite.SqliteStore(folder / f"{name}.db", retention=RetentionSettings())


async def one_run(store: sqlite.SqliteStore, workflow: flows.Workflow) -> tuple[float, int]:
    engine = Engine(store=store, clock=SystemClock())
    started = time.perf_counter()
    run = await engine.wait(await engine.start(workflow))
    elapsed = time.perf_counter() - started
    await engine.close()
    assert run.status is RunStatus.SUCCEEDED, run.error
    return elapsed, sum(1 for s in run.steps if s.status is StepStatus.SUCCEEDED)


async def dag_overhead(folder: Path, count: int) -> None:
    for name, steps, parallelism in (("dag", random_dag(count), 50), ("chain", chain(count), 1)):
        workflow = spec(steps, name=name, parallelism=parallelism)
        elapsed, done = await one_run(new_store(folder, name), workflow)
        start = time.perf_counter()
        assert await plain_dag(steps, parallelism=parallelism) == done
        plain = time.perf_counter() - start
        groups = len(history.analyze(workflow).parallel_groups)
        print(
            f"{name:5}: {done} no-op steps ({groups} levels) in {elapsed:.3f} s "
            f"= {elapsed / done * 1e6:.0f} us/step, store writes included; "
            f"plain asyncio {plain * 1000:.1f} ms"
        )
        timing.ratio(f"{name} run", elapsed, plain, against="plain asyncio, no store")


async def fan_out(
    folder: Path, *, width: int = 50, parallelism: int = 10, seconds: float = 0.2
) -> None:
    steps = [
        {"name": f"s{i}", "kind": "wait", "wait": {"duration": f"{int(seconds * 1000)}ms"}}
        for i in range(width)
    ]
    elapsed, _ = await one_run(
        new_store(folder, "fan"), spec(steps, name="fan", parallelism=parallelism)
    )
    serial = width * seconds
    speedup = serial / elapsed
    ideal = min(width, parallelism)
    print(
        f"fan-out {width} x {seconds}s, parallelism {parallelism}: {elapsed:.3f} s, "
        f"speedup {speedup:.2f}x vs serial {serial:.1f} s (ideal {ideal}x)"
    )
    timing.ratio("fan-out", elapsed, serial / ideal, against=f"the ideal {serial / ideal:.1f} s")


async def many_runs(folder: Path, count: int) -> None:
    store = new_store(folder, "many")
    engine = Engine(store=store, clock=SystemClock())
    workflow = spec(
        [noop("a", []), noop("b", ["a"]), noop("c", ["a"])], name="small", parallelism=2
    )
    latencies: list[float] = []

    async def one() -> str:
        started = time.perf_counter()
        run_id = await engine.start(workflow)
        await engine.wait(run_id)
        latencies.append(time.perf_counter() - started)
        return run_id

    started = time.perf_counter()
    ids = await asyncio.gather(*(one() for _ in range(count)))
    elapsed = time.perf_counter() - started
    await engine.close()
    stored = store.list_runs(limit=count * 2)
    assert len(stored) == count == len(set(ids))
    for run in stored:
        records = sorted((s.name, s.attempt, s.status) for s in run.steps if s.name[0] != "#")
        assert records == [(n, 1, StepStatus.SUCCEEDED) for n in "abc"], records
        assert run.status is RunStatus.SUCCEEDED
    p99 = history.percentile(latencies, 99) or 0.0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{count} runs x 3 steps started together: {elapsed:.2f} s, "
        f"{count / elapsed:.0f} runs/s, p99 latency {p99:.2f} s, peak RSS {rss:.0f} MiB; "
        f"every step recorded exactly once"
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="50 steps, 20 runs")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.runs = 50, 20
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        await dag_overhead(folder, args.steps)
        await fan_out(folder)
        await many_runs(folder, args.runs)


if __name__ == "__main__":
    asyncio.run(main())
