"""Latency from `git commit` to the changed files on disk, through the whole daemon.

`reconciler serve` follows a local repository of N File resources (default 1000) in its own
process. 50 commits change 10 resources each; for each, the clock starts before `git commit`
runs and stops when all 10 files hold their new content, as seen by this benchmark process,
which polls the files on disk: the observer is a separate process, so it does not compete
with the daemon for its interpreter lock.

Baseline, measured in the same run for the same commits: the least work a commit asks for,
done directly in this process: the same `git commit` (its measured time), resolving the
ref, diffing the two trees (the diff gives the changed files' entries: no listing of the
tree), parsing the changed files, evaluating their policies and writing the 10 files.
Ratios are ours / baseline, lower is better.

Where the time goes (medians over the commits), from what each step leaves behind: the
commit's start and end here, the pass's run (its start is after the revision loaded) and
its decisions (each stamped when the gate made it) in the daemon's store, the written
files' modification times, and the moment this process saw the last one. The revision
load is also timed here on a warm loader of the same commits (as the daemon's is), so
the notification and hand-offs are what remains before the pass starts. The slowest
commits are also shown stage by stage (the p99 is one of them). File times come
from the kernel's coarse clock (a few ms). When a target is missed it also prints the
profile of loading one more such commit here. Targets: p50 <= 100 ms and p99 <= 300 ms
at 1k resources, p50 <= 150 ms at 10k.
Run: `python benchmarks/push_latency.py [N] [COMMITS] [--quick]`.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import fleet
import httpx
import timing
from api_latency import server, wait_ready

from reconciler.clock import SystemClock
from reconciler.policy import bundle as bundles
from reconciler.policy.evaluate import Evaluator
from reconciler.reconcile.revisions import SourceLoader
from reconciler.runstate import RunKind
from reconciler.source import git
from reconciler.source.revision import Revision
from reconciler.source.settings import SourceSettings
from reconciler.specs import kinds, loader, yamlio
from reconciler.store.retention import RetentionSettings
from reconciler.store.sqlite import SqliteStore

CHANGED = 10
SLOWEST = 3  # commits whose stages are shown one by one


def commit(repo: Path) -> float:
    """`git commit` of the working tree; how long it took."""
    took, _ = timing.best_of(1, lambda: fleet.git(repo, "commit", "-qam", "round"))
    return took


def wait_applied(expected: dict[Path, str], *, timeout: float = 30.0) -> float:
    """When every file in `expected` holds its text (polled every millisecond)."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if all(_read(path) == text for path, text in expected.items()):
            return time.perf_counter()
        time.sleep(0.001)
    raise TimeoutError("the daemon did not apply the commit")


def wait_first_pass(url: str, *, timeout: float = 600.0) -> None:
    """Until every source has finished its first pass. `/readyz` answers as soon as a
    revision is served, while the cold-start pass may still be observing and evaluating
    every object: a commit made then would time the rest of the cold start."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sources = httpx.get(f"{url}/api/v1/sources").json()["sources"]
        if all(s["lastSyncAt"] and not s["reconciling"] for s in sources):
            return
        time.sleep(0.05)
    raise TimeoutError("the daemon did not finish its first pass")


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


class Floor:
    """The same commit's work done directly: resolve, tree diff, parse, evaluate, write."""

    def __init__(self, repo: Path) -> None:
        self.source = git.GitSource.open(SourceSettings(path=repo))
        first = self.source.resolve()
        snapshot = loader.load(self.source.tree(first))
        self.evaluator = Evaluator(bundles.compile(snapshot), clock=SystemClock(), revision=None)
        self.limits = yamlio.Limits()

    def measure(
        self, old: Revision, *, expected: dict[Path, str], scratch: Path
    ) -> tuple[float, Revision]:
        start = time.perf_counter()
        revision = self.source.resolve()
        tree = self.source.tree(revision)
        changes = self.source.tree_changes(old, revision)
        assert changes is not None, "the fleet has no symlinks: a tree diff lists every change"
        for path, entry in changes.items():
            role = kinds.route(path)
            if entry is None or role is None:
                continue
            parsed = loader.parse_file(tree=tree, entry=entry, role=role, limits=self.limits)
            for doc in parsed.documents:
                document = doc.document(entry.path)
                if document is not None:
                    self.evaluator.evaluate(document)
        for n, text in enumerate(expected.values()):
            (scratch / str(n)).write_text(text)
        return time.perf_counter() - start, revision


@dataclass(kw_only=True)
class Round:
    """One commit's moments (epoch seconds) seen from here, and its revision."""

    started: float  # before `git commit`
    committed: float  # `git commit` returned
    applied: float  # every file seen with its new content
    written: tuple[float, float]  # first and last file's modification time
    sha: str
    load: float  # the same revision loaded here, on a warm loader


STAGES = (
    "git commit",
    "ref watch notification + hand-offs to the source's thread",
    "revision load (tree listing, parse of changed files, policy compile)",
    "pass start -> first gate decision (observe, plan, evaluator)",
    "first gate decision -> first file written (gate, decisions + intents commit)",
    "first -> last file written (10 applies)",
    "last file written -> seen applied here (polling)",
)


def breakdown(store_path: Path, rounds: list[Round]) -> dict[int, tuple[float, ...]]:
    """Each commit's stage durations (in `STAGES` order) by its round, from the daemon's
    store and the rounds; commits the store does not account for are left out."""
    store = SqliteStore(store_path, retention=RetentionSettings())
    try:
        runs = store.list_runs(kind=RunKind.RECONCILE, limit=len(rounds) * 4 + 10)
        first = min(r.started for r in rounds)
        since = datetime.fromtimestamp(first, tz=UTC)
        decisions = store.decisions(since=since, limit=len(rounds) * CHANGED * 4)
    finally:
        store.close()
    passes = {r.revision: r for r in runs if r.revision}
    gated: dict[str, float] = {}
    for d in decisions:
        gated[d.revision or ""] = min(gated.get(d.revision or "", float("inf")), d.at.timestamp())
    stages: dict[int, tuple[float, ...]] = {}
    for n, r in enumerate(rounds):
        run, gate = passes.get(r.sha), gated.get(r.sha)
        if run is None or gate is None:
            continue
        begun = run.started_at.timestamp()
        stages[n] = (
            r.committed - r.started,
            begun - r.committed - r.load,
            r.load,
            gate - begun,
            r.written[0] - gate,
            r.written[1] - r.written[0],
            r.applied - r.written[1],
        )
    return stages


def run(
    count: int, rounds: int
) -> tuple[list[float], list[float], dict[int, tuple[float, ...]], cProfile.Profile]:
    """Commit -> applied latencies through the daemon, the baseline of each commit, the
    stages of each, and the profile of loading one more such commit here."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        repo, out = fleet.make_repository(root, count)
        scratch = root / "scratch"
        scratch.mkdir()
        serve = [sys.executable, "-m", "reconciler", "serve", str(repo), "--port", "0"]
        serve += ["--data-dir", str(root / "state"), "--interval", "1h", "--file-root", str(root)]
        with server(serve) as url:
            wait_ready(url)
            wait_first_pass(url)
            floor = Floor(repo)
            warm = SourceLoader(SourceSettings(path=repo))
            warm.refresh(fetch=False)
            old = floor.source.resolve()
            latencies, floors, seen = [], [], []
            for round_ in range(rounds):
                time.sleep(0.05)  # let the watcher settle between commits
                indices = fleet.spread(count, CHANGED, offset=round_)
                expected = fleet.write_changes(repo, out, indices=indices, version=round_ + 2)
                started, wall = time.perf_counter(), time.time()
                committed = commit(repo)
                applied = wait_applied(expected)
                latencies.append(applied - started)
                took, old = floor.measure(old, expected=expected, scratch=scratch)
                floors.append(committed + took)
                load, _ = timing.best_of(1, lambda: warm.refresh(fetch=False))
                mtimes = [os.stat(path).st_mtime_ns / 1e9 for path in expected]
                seen.append(
                    Round(
                        started=wall,
                        committed=wall + committed,
                        applied=wall + (applied - started),
                        written=(min(mtimes), max(mtimes)),
                        sha=old.sha,
                        load=load,
                    )
                )
            stages = breakdown(root / "state" / "reconciler.db", seen)
            fleet.write_changes(repo, out, indices=fleet.spread(count, CHANGED), version=rounds + 2)
            fleet.git(repo, "commit", "-qam", "profiled")
            profile = cProfile.Profile()
            profile.runcall(warm.refresh, fetch=False)
    return latencies, floors, stages, profile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int, nargs="?", default=1000)
    parser.add_argument("commits", type=int, nargs="?", default=50)
    parser.add_argument("--quick", action="store_true", help="200 resources, 5 commits")
    args = parser.parse_args()
    count, rounds = (200, 5) if args.quick else (args.count, args.commits)
    latencies, floors, stages, profile = run(count, rounds)
    target50 = 100 if count <= 1000 else 150
    p50, p99 = (v * 1000 for v in timing.percentiles(latencies, 50, 99))
    f50, f99 = (v * 1000 for v in timing.percentiles(floors, 50, 99))
    print(f"{count} File resources, {rounds} commits of {CHANGED} changed resources each")
    print(
        f"commit -> applied: p50 {p50:.0f} ms (target <= {target50}), p99 {p99:.0f} ms "
        f"(target <= 300 at 1k), mean {statistics.mean(latencies) * 1000:.0f} ms"
    )
    print(
        f"baseline (git commit + resolve + tree diff + parse + evaluate + write): "
        f"p50 {f50:.1f} ms, p99 {f99:.1f} ms"
    )
    against = "the same commit's work done directly"
    timing.ratio("commit -> applied p50", p50, f50, against=against)
    timing.ratio("commit -> applied p99", p99, f99, against=against)
    print(f"where the time goes (median ms over the {len(stages)} commits the store accounts for):")
    for n, stage in enumerate(STAGES):
        values = [row[n] for row in stages.values()]
        shown = f"{statistics.median(values) * 1000:7.1f}" if values else "    n/a"
        print(f"  {shown}  {stage}")
    slowest = sorted(stages, key=lambda n: latencies[n], reverse=True)[:SLOWEST]
    print(f"the {len(slowest)} slowest commits (commit number: latency = the stages above, ms):")
    for n in slowest:
        parts = " + ".join(f"{v * 1000:.0f}" for v in stages[n])
        print(f"  #{n + 1}: {latencies[n] * 1000:.0f} = {parts}")
    if p50 > target50 or (count <= 1000 and p99 > 300):
        print("target missed; the revision load of one more such commit, profiled here:")
        pstats.Stats(profile, stream=sys.stdout).sort_stats("cumulative").print_stats(14)


if __name__ == "__main__":
    main()
