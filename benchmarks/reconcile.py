"""Cost of reconcile passes over N (default 10 000) File resources, against what must be paid.

Builds the fleet of `fleet.py` (N File resources, one file each, one policy bound to every
File, the target files on disk as Git says), then measures:
(a) cold start: first load + compile + observe + plan of a new controller, nothing to apply
    (with an empty store, then again as a restart over the statuses it wrote);
(b) a steady-state pass (same revision, nothing changed), against the baseline measured in
    the same run: evaluating the same bindings over the same N documents plus `diffs.diff`
    of each (normalised observed, desired) pair, the least a pass must do;
(c) the pass after a commit changing 10 files, against the steady pass as baseline (three
    such commits, each changing other files; the fastest pass, with its revision's load;
    when the pass costs more than 5% of the steady one, the profile of a fourth);
(d) peak RSS (VmHWM);
(e) the cold start with the daemon's evaluation pool (`reconcile.evaluationWorkers`, one
    worker per core), against the same cold start evaluating on the source's thread as
    baseline, each on an empty store: once with the pool started by that cold start (the
    daemon's first pass), once with the pool already running (a second source's).
Ratios are ours / baseline, lower is better. Each timed figure after (a) is the best of 3.
Run: `python benchmarks/reconcile.py [N] [--quick]`.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import os
import pstats
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import fleet
import timing
from fleet import Clocked, timed

from reconciler.clock import SystemClock
from reconciler.plan import diffs
from reconciler.policy.evaluate import Evaluator
from reconciler.policy.pool import EvaluationPool
from reconciler.reconcile.controller import Controller
from reconciler.reconcile.resources import Result
from reconciler.reconcile.revisions import Loaded, SourceLoader
from reconciler.store.retention import RetentionSettings
from reconciler.store.sqlite import SqliteStore


def floor(loaded: Loaded, controller: Controller) -> float:
    """Best of 3: evaluate every binding over every document, diff each observed/desired pair."""
    docs = loaded.snapshot.resources
    provider = controller.registry.find(docs[0], mapping={})
    assert provider is not None
    pairs = []
    for doc in docs:
        observed = provider.observe(doc)
        assert observed is not None
        pairs.append((provider.normalise(doc.body, observed), doc.body))
    evaluator = Evaluator(loaded.bundle, clock=SystemClock(), revision=loaded.revision.sha)
    evaluator.evaluate(docs[0])

    def work() -> None:
        for doc in docs:
            evaluator.evaluate(doc)
        for have, want in pairs:
            diffs.diff(have, want)

    return timing.best_of(3, work)[0]


def ten_file_commit(
    repo: Path, out: Path, loader: SourceLoader, controller: Controller, round_: int
) -> tuple[Clocked, Clocked]:
    """Commit a change to 10 resources (other ones each round); time loading that
    revision, then the pass over it."""
    count = len(loader.last_good.snapshot.resources)  # type: ignore[union-attr]
    changed = fleet.spread(count, 10, offset=round_)
    fleet.write_changes(repo, out, indices=changed, version=2 + round_)
    fleet.git(repo, "commit", "-qam", "ten")
    load, _ = timed(lambda: loader.refresh(fetch=False))
    incremental, result = timed(lambda: fleet.sync(loader, controller, "git"))
    assert result.count(Result.APPLIED) == len(changed), result.outcomes
    return load, incremental


def main(count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        repo, out = fleet.make_repository(root, count)
        pool = ThreadPoolExecutor(8)
        store = SqliteStore(root / "state.db", retention=RetentionSettings())
        loader, controller = fleet.start(repo, store, pool)
        cold, first = timed(lambda: fleet.sync(loader, controller, "startup"))
        assert first.count(Result.UNCHANGED) == count, first.outcomes[:3]
        restart_loader, restarted = fleet.start(repo, store, pool)
        restart, _ = timed(lambda: fleet.sync(restart_loader, restarted, "startup"))
        fleet.sync(loader, controller, "interval")  # confirms; later passes are steady
        steady, _ = timing.best_of(3, lambda: fleet.sync(loader, controller, "interval"))
        least = floor(loader.last_good, controller)  # type: ignore[arg-type]
        rounds = [ten_file_commit(repo, out, loader, controller, n) for n in range(3)]
        load, incremental = min(rounds, key=lambda r: r[1])
        profile = cProfile.Profile()
        profile.runcall(ten_file_commit, repo, out, loader, controller, 3)
        peak = timing.peak_rss_mb()
        store.close()
        alone, started, running = pooled_cold_starts(repo, root, pool)
        pool.shutdown()
    print(f"{count} File resources, 1 binding; wall time (and CPU time of all threads)")
    print(f"(a) cold start, empty store:   {cold}   (target <= 5 s)")
    print(f"    restart over its statuses: {restart}")
    print(f"(b) steady pass: {steady * 1000:.0f} ms (target <= 1000 ms)")
    print(f"    baseline, evaluate + diff of the same documents: {least * 1000:.0f} ms")
    timing.ratio("steady pass", steady, least, against="evaluate + diff of the same documents")
    print(
        f"(c) pass after a 10-file commit: {incremental} (target <= 5% of the steady pass); "
        f"loading that revision took {load} more"
    )
    if timing.ratio("incremental pass", incremental, steady, against="the steady pass") > 0.05:
        print("target missed; one more 10-file commit's load and pass, profiled:")
        pstats.Stats(profile, stream=sys.stdout).sort_stats("cumulative").print_stats(25)
    print(f"(d) peak RSS: {peak:.0f} MB (target <= 300 MB)")
    print(
        f"(e) cold start on the source's thread: {alone}; with {WORKERS} worker processes: "
        f"{started} (pool started by it), {running} (pool already running)"
    )
    timing.ratio("cold start, pool started", started, alone, against="on the source's thread")
    timing.ratio("cold start, pool running", running, alone, against="on the source's thread")


WORKERS = os.cpu_count() or 1


def pooled_cold_starts(
    repo: Path, root: Path, pool: ThreadPoolExecutor
) -> tuple[Clocked, Clocked, Clocked]:
    """Cold starts on empty stores: on the source's thread, then with an evaluation pool
    twice (the first one starts it)."""
    evaluations = EvaluationPool(workers=WORKERS, min_batch=1)  # at any size, even --quick
    took: list[Clocked] = []
    try:
        for n, chosen in enumerate((None, evaluations, evaluations)):
            store = SqliteStore(root / f"cold{n}.db", retention=RetentionSettings())
            loader, controller = fleet.start(repo, store, pool, chosen)
            took.append(timed(functools.partial(fleet.sync, loader, controller, "startup"))[0])
            store.close()
    finally:
        evaluations.close()
    assert evaluations.batches == 2
    return took[0], took[1], took[2]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int, nargs="?", default=10_000)
    parser.add_argument("--quick", action="store_true", help="300 resources")
    args = parser.parse_args()
    main(300 if args.quick else args.count)
