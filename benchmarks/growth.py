"""How reconcile cost and memory grow with the fleet: 1k, 10k and 100k File resources.

Each size runs in a fresh process (so peak RSS is its own) over the fleet of `fleet.py`,
and measures three phases, each with its peak RSS (VmHWM, reset at the start of the phase):

- cold start: a new controller's first pass over an empty store (load, compile, observe,
  plan; nothing to apply);
- steady pass: the same revision again, nothing changed (best of 3);
- incremental pass: a commit changing 10 files, loaded and reconciled (10 files applied).

The baseline is linear growth: for each phase the growth exponent is the slope of
log(time) against log(size) (numpy.polyfit over all sizes, and between each two sizes, so
a fit over three points cannot hide one steep step; the target holds for both), printed
as `ratio` = slope / 1 (ours / linear growth; lower is better). Targets: slope <= 1.1,
peak RSS <= 1.5 GB at 100k. Sizes run one after another; each size's figures print as
soon as it finishes.

    python benchmarks/growth.py [--sizes 1000,10000,100000] [--quick]   (quick: 1k and 3k)
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import fleet
import numpy as np
import timing

from reconciler.reconcile.resources import Result
from reconciler.store.retention import RetentionSettings
from reconciler.store.sqlite import SqliteStore

PHASES = ("cold start", "steady pass", "incremental pass")
CHANGED = 10
SLOPE_TARGET, RSS_TARGET_MB = 1.1, 1536


def phase(action: Any, rounds: int = 1) -> dict[str, float]:
    """Seconds (best of `rounds`) and peak RSS in MB of `action`."""
    timing.reset_peak_rss()
    took, _ = timing.best_of(rounds, action)
    return {"seconds": took, "rss_mb": timing.peak_rss_mb()}


def measure(count: int) -> dict[str, Any]:
    """Run in the child process: the three phases at `count` resources."""
    with tempfile.TemporaryDirectory(prefix="reconciler-growth-") as tmp:
        root = Path(tmp)
        built = time.perf_counter()
        repo, out = fleet.make_repository(root, count)
        built = time.perf_counter() - built
        pool = ThreadPoolExecutor(8)
        store = SqliteStore(root / "state.db", retention=RetentionSettings())
        loader, controller = fleet.start(repo, store, pool)
        found: dict[str, Any] = {"size": count, "build_seconds": built}
        found["cold start"] = phase(lambda: fleet.sync(loader, controller, "startup"))
        fleet.sync(loader, controller, "interval")  # confirms; later passes are steady
        found["steady pass"] = phase(lambda: fleet.sync(loader, controller, "interval"), 3)
        changed = fleet.spread(count, CHANGED)
        fleet.write_changes(repo, out, indices=changed, version=2)
        fleet.git(repo, "commit", "-qam", "ten")
        result: list[Any] = []
        found["incremental pass"] = phase(
            lambda: result.append(fleet.sync(loader, controller, "git"))
        )
        assert result[0].count(Result.APPLIED) == len(changed), result[0].outcomes[:3]
        store.close()
        pool.shutdown()
    return found


def run_size(count: int) -> dict[str, Any]:
    """`measure(count)` in a fresh interpreter; its JSON result."""
    done = subprocess.run(
        [sys.executable, __file__, "--one", str(count)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"size {count} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    found: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return found


def show(found: dict[str, Any]) -> None:
    parts = [
        f"{name} {found[name]['seconds'] * 1000:9.0f} ms {found[name]['rss_mb']:6.0f} MB"
        for name in PHASES
    ]
    print(f"{found['size']:>7}: " + " | ".join(parts), flush=True)


def step_slope(a: dict[str, Any], b: dict[str, Any], name: str) -> float:
    """The log-log slope of one phase's time between two sizes."""
    return math.log(b[name]["seconds"] / a[name]["seconds"]) / math.log(b["size"] / a["size"])


def slopes(results: list[dict[str, Any]]) -> None:
    sizes = np.log([r["size"] for r in results])
    for name in PHASES:
        slope = float(np.polyfit(sizes, np.log([r[name]["seconds"] for r in results]), 1)[0])
        rss = float(np.polyfit(sizes, np.log([r[name]["rss_mb"] for r in results]), 1)[0])
        steepest = max(step_slope(a, b, name) for a, b in itertools.pairwise(results))
        verdict = "met" if max(slope, steepest) <= SLOPE_TARGET else "MISSED"
        steps = ", ".join(
            f"{a['size']}->{b['size']} {step_slope(a, b, name):.2f}"
            for a, b in itertools.pairwise(results)
        )
        print(
            f"{name}: time slope {slope:.2f} (target <= {SLOPE_TARGET}: {verdict}; "
            f"between sizes {steps}), peak RSS slope {rss:.2f}"
        )
        # A cost that does not grow (the incremental pass) has a slope near 0, below it by
        # noise; its ratio reads as 0 (the line above shows the slope as measured).
        timing.ratio(f"{name} growth", max(slope, 0.0), 1.0, against="linear growth, slope 1")
    largest = results[-1]
    peak = max(largest[name]["rss_mb"] for name in PHASES)
    verdict = "met" if peak <= RSS_TARGET_MB else "MISSED"
    target = f"target <= {RSS_TARGET_MB} MB at 100k: {verdict}"
    print(
        f"peak RSS at {largest['size']}: {peak:.0f} MB"
        + (f" ({target})" if largest["size"] >= 100_000 else "")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--quick", action="store_true", help="sizes 1000,3000")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # the child's size
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one)))
        return
    sizes = [1000, 3000] if args.quick else [int(s) for s in args.sizes.split(",")]
    if len(sizes) < 2 or sizes != sorted(set(sizes)):
        raise SystemExit("--sizes: at least two different sizes, smallest first")
    print(f"File resources, 1 binding, {CHANGED}-file commit; time and peak RSS per phase")
    results = []
    for count in sizes:
        results.append(run_size(count))
        show(results[-1])
    slopes(results)


if __name__ == "__main__":
    main()
