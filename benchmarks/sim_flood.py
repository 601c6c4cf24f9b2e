"""What bounding the simulations waiting in the store costs a submission, on SQLite and on a
real PostgreSQL server (`tests/postgres.py`; skipped, saying so, without its binaries).

A flood of N pull-request simulations for one source, each of a different pull request (so
past `maxQueued` every submission cancels the oldest waiting one: the bound's most work),
is queued through `enqueue_simulation` as the simulation service queues it on a shared
store. Ours bounds what waits (`most=32`); the baseline queues the same records without the
bound (`most=None`, the store before it had one) into a fresh store of the same backend, in
the same run. Prints submissions/s and what each leaves queued, and a `ratio` line per
backend: time per bounded submission / time per unbounded one, lower is better.

    python benchmarks/sim_flood.py [--simulations 2000] [--rounds 3] [--quick]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from timing import ratio

from reconciler.reconcile.settings import DaemonSource
from reconciler.reconcile.simulations import runs, service
from reconciler.store import runqueue
from reconciler.store.interfaces import SimulationStatus, Store
from reconciler.store.postgres import PostgresStore
from reconciler.store.retention import RetentionSettings
from reconciler.store.sqlite import SqliteStore
from tests import postgres as pg

MOST = 32
SOURCE = DaemonSource(name="policies", path=Path("/srv/policies"))
START = datetime(2026, 1, 1, tzinfo=UTC)


def flood(store: Store, *, count: int, most: int | None) -> None:
    """Queue `count` simulations of different pull requests into `store`."""
    for n in range(count):
        job = runs.Job(
            id=str(uuid.uuid4()),
            source=SOURCE,
            forge="github",
            number=n,
            base="a" * 40,
            head=f"{n:040x}",
            forge_repo="org/policies",
            trigger="webhook:github",
        )
        record, run = runs.queued_records(job, at=START + timedelta(milliseconds=n))
        store.enqueue_simulation(
            record,
            run=run,
            target=SOURCE.name,
            payload=service.payload(job),
            at=record.created_at,
            most=most,
        )


def measure(name: str, open_store: Callable[[], Store], *, count: int, rounds: int) -> None:
    """Flood a fresh store `rounds` times each way (opening it untimed); the fastest counts."""
    timed: dict[str, float] = {}
    for label, most in (("unbounded", None), ("bounded", MOST)):
        best = float("inf")
        for _ in range(rounds):
            store = open_store()
            try:
                start = time.perf_counter()
                flood(store, count=count, most=most)
                best = min(best, time.perf_counter() - start)
                queued = len(store.queued_runs(kind=runqueue.SIMULATION))
                cancelled = store.list_simulations(status=SimulationStatus.CANCELLED, limit=count)
            finally:
                store.close()
        print(
            f"{name} {label}: {count / best:,.0f} submissions/s,"
            f" {queued} queued, {len(cancelled)} cancelled"
        )
        timed[label] = best / count
    ratio(f"submission {name}", timed["bounded"], timed["unbounded"], against="an unbounded one")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simulations", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="100 simulations, 1 round")
    args = parser.parse_args()
    count, rounds = (100, 1) if args.quick else (args.simulations, args.rounds)
    retention = RetentionSettings()
    with tempfile.TemporaryDirectory(prefix="sim-flood-") as tmp:
        files = iter(range(1_000_000))
        measure(
            "sqlite",
            lambda: SqliteStore(Path(tmp) / f"{next(files)}.db", retention=retention),
            count=count,
            rounds=rounds,
        )
    bin_dir = pg.binaries()
    if bin_dir is None:
        print(f"postgresql: not measured: {pg.MISSING}")
        return
    server = pg.Server(bin_dir)
    server.start()
    try:
        measure(
            "postgresql",
            lambda: PostgresStore(server.url(server.database()), retention=retention),
            count=count,
            rounds=rounds,
        )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
