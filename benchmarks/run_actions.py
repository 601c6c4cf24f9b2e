"""What forwarding actions on runs between replicas costs: the heartbeat's take, and a
forward.

Heartbeat: every beat, a replica takes the actions other replicas forwarded for the runs
live here (`runactions.take_for`: run actions, and answers an earlier version queued under
their own kind, in one query). The work queue holds OTHER rows for other replicas' runs and
sources and nothing for the LIVE runs (the usual beat). Baseline: the one-kind take the
heartbeat made before cancels, pauses and resumes were forwarded (`store.take` of one kind
for the same runs, then answers, here run actions: the kind the rows queued for others
are), through the same event loop and worker thread.

Forward: asked of a replica that does not run it, an action is queued for the run's
holder (`runclaims.forward`: the run's queue entry read by its id among the QUEUED runs,
then the row written). Baseline: writing the same row alone (`store.enqueue`).

Each on SQLite in a temporary folder and on a real PostgreSQL (`tests/postgres.py`; left
out, and said so, where its binaries are missing). Prints the best of ROUNDS of each and
the `ratio` lines (ours / baseline, lower is better).

    python benchmarks/run_actions.py [--queued 1000] [--other 4000] [--live 100] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import timing

from reconciler.clock import ManualClock
from reconciler.reconcile import runactions, runclaims
from reconciler.reconcile.runclaims import RunClaims
from reconciler.runstate import RunKind, RunRecord, RunStatus
from reconciler.store import backends, queue
from reconciler.store.interfaces import Store
from reconciler.store.leases import REPLICA
from reconciler.store.retention import RetentionSettings
from tests import postgres as pg

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TTL = timedelta(hours=1)


def _run(i: int) -> RunRecord:
    return RunRecord(
        id=f"run-{i:06d}",
        kind=RunKind.WORKFLOW,
        name="deploy",
        trigger="api",
        revision=None,
        status=RunStatus.PENDING,
        steps=(),
        started_at=T0,
    )


def _fill(store: Store, args: argparse.Namespace) -> None:
    """QUEUED runs held by replica `other`; OTHER work rows for runs and sources not ours."""
    for i in range(args.queued):
        store.enqueue_run(_run(i), target="a", at=T0)
    token = store.acquire(REPLICA + "other", "other", ttl=TTL, now=T0)
    assert token is not None
    while store.claim_runs("other", token=token, targets=["a"], now=T0, limit=1000):
        pass
    with store.batch():
        for i in range(args.other):
            kind, target = (queue.RUN_ACTION, f"elsewhere-{i}") if i % 2 else (queue.SYNC, "b")
            store.enqueue(kind, target, payload={"action": "pause"}, at=T0)


def _rounds(n: int, fn: Callable[[], object]) -> Callable[[], None]:
    def many() -> None:
        for _ in range(n):
            fn()

    return many


async def _takes(n: int, take: Callable[[], object]) -> None:
    for _ in range(n):
        await asyncio.to_thread(take)


def measure(store: Store, args: argparse.Namespace, label: str) -> None:
    _fill(store, args)
    live = [f"live-{i}" for i in range(args.live)]
    n = args.iterations

    async def ours_take() -> None:
        for _ in range(n):
            assert await runactions.take_for(store, live) == []

    def base_take() -> None:
        asyncio.run(_takes(n, lambda: store.take(queue.RUN_ACTION, targets=live)))

    ours, _ = timing.best_of(args.rounds, lambda: asyncio.run(ours_take()))
    base, _ = timing.best_of(args.rounds, base_take)
    print(f"{label}: {args.live} live runs, {args.other} rows queued for others")
    print(f"  heartbeat take (run actions + earlier answers): {ours / n * 1e6:.0f} us")
    print(f"  take of one kind (before):                      {base / n * 1e6:.0f} us")
    timing.ratio(
        f"heartbeat take of forwarded actions, {label}",
        ours,
        base,
        against="a one-kind take",
    )

    claims = RunClaims(
        name="here",
        store=store,
        clock=ManualClock(T0),
        own_fence=lambda: None,
        owned=lambda: [],
    )
    held = _run(args.queued // 2).id

    def forward() -> None:
        assert runclaims.forward(store, claims, run_id=held, action="pause") == "other"

    def write() -> None:
        store.enqueue(queue.RUN_ACTION, held, payload=runactions.payload("pause"), at=T0)

    ours, _ = timing.best_of(args.rounds, _rounds(n, forward))
    base, _ = timing.best_of(args.rounds, _rounds(n, write))
    print(f"  forward (among {args.queued} queued runs):      {ours / n * 1e6:.0f} us")
    print(f"  the row written alone:                          {base / n * 1e6:.0f} us")
    timing.ratio(f"forward of an action, {label}", ours, base, against="writing its row alone")


@contextmanager
def _postgres() -> Iterator[str | None]:
    bin_dir = pg.binaries()
    if bin_dir is None:
        yield None
        return
    server = pg.Server(bin_dir)
    server.start()
    try:
        yield server.url(server.database())
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queued", type=int, default=1000)
    parser.add_argument("--other", type=int, default=4000)
    parser.add_argument("--live", type=int, default=100)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="a tiny size (for the tests)")
    args = parser.parse_args()
    if args.quick:
        args.queued, args.other, args.live, args.iterations, args.rounds = 20, 40, 5, 5, 2
    retention = RetentionSettings()
    with tempfile.TemporaryDirectory() as tmp, _postgres() as url:
        for where, label in ((None, "SQLite"), (url, "PostgreSQL")):
            if label == "PostgreSQL" and url is None:
                print(f"PostgreSQL left out: {pg.MISSING}", file=sys.stderr)
                continue
            store = backends.open_store(where, data_dir=Path(tmp), retention=retention)
            try:
                measure(store, args, label)
            finally:
                store.close()


if __name__ == "__main__":
    main()
