"""What listing the approvals from the store costs: `GET /api/v1/approvals` on any replica.

The list is read from the store (`api.runs.pending`: the unfinished runs with a step
recorded waiting, then the newest attempt of each step), so every replica sharing it shows
every replica's waiting steps. A fresh store holds RUNS finished runs of STEPS steps each,
WAITING runs each with a step waiting for an answer, and as many running runs that wait
for nothing. Baseline: reading the same waiting runs with all their steps through the
store's existing indexed query (`list_runs(status=waiting)`), which only knows the run
status — the least the list must read — on the same event loop and worker thread. Prints
the best of ROUNDS of each and the `ratio` line (ours / baseline, lower is better).
SQLite in a temporary folder, or the PostgreSQL database of `--store-url` (its runs
tables must be empty).

    python benchmarks/approvals.py [--runs 5000] [--waiting 100] [--steps 5] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import timing

from reconciler.api import runs
from reconciler.run import asks
from reconciler.runstate import RunKind, RunRecord, RunStatus, StepRecord, StepStatus
from reconciler.store import backends
from reconciler.store.interfaces import Store
from reconciler.store.retention import RetentionSettings

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _steps(n: int, *, last: StepStatus) -> tuple[StepRecord, ...]:
    done = [
        StepRecord(
            name=f"s{i}",
            status=StepStatus.SUCCEEDED,
            started_at=T0,
            finished_at=T0 + timedelta(seconds=1),
            output={"exitCode": 0, "stdout": "ok\n"},
        )
        for i in range(n - 1)
    ]
    output = (
        {asks.ASKED: {"prompt": "ship?", "approvers": []}} if last is StepStatus.WAITING else {}
    )
    return (*done, StepRecord(name="gate", status=last, started_at=T0, output=output))


def _fill(store: Store, *, finished: int, waiting: int, steps: int) -> None:
    def run(i: int, status: RunStatus, last: StepStatus) -> RunRecord:
        return RunRecord(
            id=f"run-{i:06d}",
            kind=RunKind.WORKFLOW,
            name="deploy",
            trigger="api",
            revision=None,
            status=status,
            steps=_steps(steps, last=last),
            started_at=T0 + timedelta(seconds=i),
            finished_at=T0 + timedelta(seconds=i + 1) if status is RunStatus.SUCCEEDED else None,
        )

    with store.batch():
        for i in range(finished):
            store.create_run(run(i, RunStatus.SUCCEEDED, StepStatus.SUCCEEDED))
        for i in range(finished, finished + waiting):
            store.create_run(run(i, RunStatus.WAITING, StepStatus.WAITING))
            store.create_run(run(i + waiting, RunStatus.RUNNING, StepStatus.RUNNING))


async def _by_status(store: Store, args: argparse.Namespace) -> list[RunRecord]:
    """The baseline, through the same event loop and worker thread as `pending`."""
    return await asyncio.to_thread(store.list_runs, status=RunStatus.WAITING, limit=args.waiting)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5000)
    parser.add_argument("--waiting", type=int, default=100)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--store-url", help="a PostgreSQL database to use instead of SQLite")
    parser.add_argument("--quick", action="store_true", help="a tiny size (for the tests)")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.waiting, args.rounds = 200, 10, 3
    with tempfile.TemporaryDirectory() as tmp:
        store = backends.open_store(
            args.store_url, data_dir=Path(tmp), retention=RetentionSettings()
        )
        try:
            _fill(store, finished=args.runs, waiting=args.waiting, steps=args.steps)
            ours, listed = timing.best_of(args.rounds, lambda: asyncio.run(runs.pending(store)))
            base, read = timing.best_of(args.rounds, lambda: asyncio.run(_by_status(store, args)))
        finally:
            store.close()
    assert len(listed) == len(read) == args.waiting, (len(listed), len(read))
    total = args.runs + 2 * args.waiting
    print(
        f"{args.waiting} approvals among {total} runs of {args.steps} steps "
        f"({'PostgreSQL' if args.store_url else 'SQLite'}):"
    )
    print(f"  GET /api/v1/approvals (pending): {ours * 1000:.1f} ms")
    print(f"  list_runs(status=waiting):       {base * 1000:.1f} ms")
    timing.ratio(
        "approvals listed from the store",
        ours,
        base,
        against="reading the waiting runs by status",
    )


if __name__ == "__main__":
    main()
