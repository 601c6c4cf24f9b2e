"""Regression detection on series with known shifts: false-positive and detection rates.

Each trial draws a "before" and an "after" window of a latency-like metric (log-normal noise
around a daily cycle) and shifts the after window's level by a known amount: 0% (no
regression: every flag is a false positive), and +5%, +10%, +20%, +30% (each flag is a
detection). reconciler's detector (reconciler/optimize/regression.py: one-sided
Mann-Whitney U at alpha 0.01 with a minimum effect of 5% on the median) against a naive
baseline (flag when the after mean exceeds the before mean by 5%).

    python3 benchmarks/regression.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.timing import ratio
from reconciler.optimize.regression import compare

SHIFTS = (0.0, 0.05, 0.10, 0.20, 0.30)


def window(rng: np.random.Generator, n: int, level: float, phase: float) -> np.ndarray:
    hours = phase + np.arange(n) * 0.25  # a sample every 15 minutes
    daily = 1 + 0.15 * np.sin(2 * np.pi * hours / 24)
    return level * daily * rng.lognormal(0, 0.25, size=n)


def rates(trials: int, n: int, seed: int) -> dict[float, tuple[float, float]]:
    rng = np.random.default_rng(seed)
    found: dict[float, tuple[float, float]] = {}
    for shift in SHIFTS:
        ours = naive = 0
        for _ in range(trials):
            phase = rng.uniform(0, 24)
            before = window(rng, n, 100.0, phase)
            after = window(rng, n, 100.0 * (1 + shift), phase + n * 0.25)
            ours += compare(before, after).regressed
            naive += after.mean() > before.mean() * 1.05
        found[shift] = (ours / trials, naive / trials)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a tiny size")
    args = parser.parse_args()
    trials, n = (60, 48) if args.quick else (2000, 96)
    print(f"{trials} trials per shift, windows of {n} samples (15-minute samples: {n / 4:g}h)")
    print("shift   flagged by reconciler   flagged by the naive 5% mean rule")
    found = rates(trials, n, seed=1)
    for shift, (ours, naive) in found.items():
        what = "false positives" if shift == 0 else "detected"
        print(f"{shift:>+5.0%}   {ours:>8.1%} {what:<16} {naive:>8.1%}")
    false_ours, false_naive = found[0.0]
    print(f"false-positive rate: {false_ours:.2%} (naive rule {false_naive:.2%})")
    print(f"detection rate at +20%: {found[0.2][0]:.1%}, at +10%: {found[0.1][0]:.1%}")
    ratio(
        "false positives",
        max(false_ours, 1 / trials),
        max(false_naive, 1 / trials),
        against="flagging a 5% higher mean",
    )
    ratio(
        "missed at +20%",
        max(1 - found[0.2][0], 1 / trials),
        max(1 - found[0.2][1], 1 / trials),
        against="flagging a 5% higher mean",
    )


if __name__ == "__main__":
    main()
