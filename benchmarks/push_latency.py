"""Latency from `git commit` to the changed files on disk, through the whole daemon in-process.

A local repository of N File resources (default 1000) is served by a `Daemon` (its ref
watcher, source runner and controller on one asyncio loop). 50 commits change 10 resources
each; for each, the time from the commit (its ref written) until all 10 files hold their
new content is measured. Beside it, the floor for the same commit done directly: resolve
the ref, diff the two trees, parse the changed files and evaluate their policies.
Run: `python benchmarks/push_latency.py [N] [COMMITS]`.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from reconciler.clock import SystemClock
from reconciler.policy import bundle as bundles
from reconciler.policy.evaluate import Evaluator
from reconciler.reconcile.daemon import Daemon
from reconciler.reconcile.settings import DaemonSettings, DaemonSource
from reconciler.source import git
from reconciler.source.settings import SourceSettings
from reconciler.specs import kinds, loader, yamlio

sys.path.insert(0, str(Path(__file__).parent))
import reconcile as bench  # the repository generator of the sibling benchmark

CHANGED = 10


def commit(repo: Path, out: Path, *, round_: int, count: int) -> dict[Path, str]:
    """Change CHANGED resources to version `round_ + 2`; the files they must produce."""
    expected: dict[Path, str] = {}
    step = count // CHANGED
    for n in range(CHANGED):
        i = (n * step + round_) % count
        (repo / "resources" / f"f{i:05d}.yaml").write_text(bench.resource_yaml(i, out, round_ + 2))
        expected[out / f"d{i // 100:03d}" / f"f{i:05d}"] = f"v{round_ + 2} of {i}\n"
    subprocess.run(
        [
            "git",
            "-C",
            str(repo),
            "-c",
            "user.name=b",
            "-c",
            "user.email=b@b",
            "commit",
            "-qam",
            f"round {round_}",
        ],
        check=True,
    )
    return expected


def wait_applied(expected: dict[Path, str], *, timeout: float = 30.0) -> float:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if all(_read(path) == text for path, text in expected.items()):
            return time.perf_counter()
        time.sleep(0.0005)
    raise TimeoutError("the daemon did not apply the commit")


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


class Floor:
    """The same commit's work done directly: resolve, tree diff, parse changed, evaluate."""

    def __init__(self, repo: Path) -> None:
        self.source = git.GitSource.open(SourceSettings(path=repo))
        first = self.source.resolve()
        snapshot = loader.load(self.source.tree(first))
        self.evaluator = Evaluator(bundles.compile(snapshot), clock=SystemClock(), revision=None)
        self.limits = yamlio.Limits()

    def measure(self, old: str) -> tuple[float, str]:
        start = time.perf_counter()
        revision = self.source.resolve()
        tree = self.source.tree(revision)
        changed = set(self.source.changed_paths(old, revision.sha))
        for entry in tree.entries():
            role = kinds.route(entry.path)
            if entry.path not in changed or role is None:
                continue
            parsed = loader.parse_file(tree=tree, entry=entry, role=role, limits=self.limits)
            for doc in parsed.documents:
                document = doc.document(entry.path)
                if document is not None:
                    self.evaluator.evaluate(document)
        return time.perf_counter() - start, revision.sha


async def run(count: int, rounds: int) -> tuple[list[float], list[float]]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        repo, out = bench.make_repository(root, count)
        settings = DaemonSettings(
            data_dir=root / "state",
            sources=[DaemonSource(name="bench", path=repo, interval="1h", jitter="0s")],
        )
        daemon = Daemon(settings, clock=SystemClock())
        stop = asyncio.Event()
        task = asyncio.create_task(daemon.run(stop))
        runner = daemon.runner("bench")
        while runner.passes < 1:
            await asyncio.sleep(0.01)
        # A regorus engine stays on the thread that built it: the floor gets its own thread.
        floor_thread = ThreadPoolExecutor(1)
        loop = asyncio.get_running_loop()
        floor = await loop.run_in_executor(floor_thread, Floor, repo)
        old = floor.source.resolve().sha
        latencies, floors = [], []
        for round_ in range(rounds):
            await asyncio.sleep(0.05)  # let the watcher settle between commits
            expected = await asyncio.to_thread(commit, repo, out, round_=round_, count=count)
            committed = time.perf_counter()
            applied = await asyncio.to_thread(wait_applied, expected)
            latencies.append(applied - committed)
            took, old = await loop.run_in_executor(floor_thread, floor.measure, old)
            floors.append(took)
        stop.set()
        await task
        holder = [floor]
        del floor
        await loop.run_in_executor(floor_thread, holder.clear)  # dropped where it was built
        floor_thread.shutdown()
    return latencies, floors


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main(count: int, rounds: int) -> None:
    latencies, floors = asyncio.run(run(count, rounds))
    print(f"{count} File resources, {rounds} commits of {CHANGED} changed resources each")
    print(
        f"commit -> applied: p50 {pct(latencies, 0.5):.0f} ms (target <= 100), "
        f"p99 {pct(latencies, 0.99):.0f} ms (target <= 300), "
        f"mean {statistics.mean(latencies) * 1000:.0f} ms"
    )
    print(
        f"floor (resolve + tree diff + parse + evaluate): p50 {pct(floors, 0.5):.1f} ms, "
        f"p99 {pct(floors, 0.99):.1f} ms; "
        f"p50 ratio {pct(latencies, 0.5) / pct(floors, 0.5):.1f}x"
    )


if __name__ == "__main__":
    main(
        int(sys.argv[1]) if len(sys.argv) > 1 else 1000,
        int(sys.argv[2]) if len(sys.argv) > 2 else 50,
    )
