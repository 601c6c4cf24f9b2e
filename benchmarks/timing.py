"""Timing, percentiles, memory and ratio lines shared by the benchmark scripts.

Every script measures its own code and a baseline doing the same work in the same run, and
prints `ratio` lines through `ratio`, always ours / baseline: below 1 is faster than the
baseline, above 1 slower. Run the scripts from the repository root; each takes `--quick`
for a tiny size (what `tests/test_benchmarks.py` runs so they cannot rot).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np


def best_of(rounds: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    """The fastest of `rounds` wall-clock runs of `fn`, and the last result.

    The machine is shared: the minimum is the run least disturbed by others."""
    best, result = float("inf"), None
    for _ in range(rounds):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def percentiles(values: Sequence[float], *qs: float) -> list[float]:
    """The `qs` percentiles (0-100) of `values`, linearly interpolated (numpy's default)."""
    return [float(v) for v in np.percentile(np.asarray(values, dtype=float), qs)]


def ratio(what: str, ours: float, baseline: float, *, against: str) -> float:
    """Print `ratio WHAT: ours/baseline (against AGAINST; lower is better)`; return it."""
    value = ours / baseline
    print(f"ratio {what}: {value:.2f} (ours / {against}; lower is better)")
    return value


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM) in MB, since start or the last reset."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def reset_peak_rss() -> bool:
    """Start VmHWM again from the current RSS (Linux `clear_refs` 5); False where refused."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True
