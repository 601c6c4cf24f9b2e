"""Anomaly trigger detector: precision and recall on labelled synthetic series.

Each series is a metric sampled every minute for three days: a daily cycle (amplitude 40%
of the level), a slow trend, Gaussian noise, and labelled anomalies — spikes of 5 to 10
noise standard deviations lasting 1 to 3 minutes, at random times. Every minute the
detector of the `anomaly` trigger (reconciler/run/anomaly.py: the newest sample's robust
z-score against the previous hour, threshold 3.5, direction above) says anomalous or not;
a labelled minute flagged is a true positive. The baselines are static thresholds, what a
fixed `metric` trigger would be set to: the mean plus three standard deviations of the
first day, and the best static threshold for each series (chosen with its labels, for the
highest F1: an upper bound no real static threshold reaches).

    python3 benchmarks/anomaly.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.timing import ratio
from reconciler.run.anomaly import anomalous, robust_z

LOOKBACK = 60  # minutes


def series(rng: np.random.Generator, minutes: int) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(minutes)
    level = 100 * (1 + 0.4 * np.sin(2 * np.pi * t / 1440)) * (1 + 0.1 * t / minutes)
    noise = 3.0
    values = level + rng.normal(0, noise, minutes)
    labels = np.zeros(minutes, dtype=bool)
    for start in rng.choice(np.arange(1440, minutes - 3), size=minutes // 720, replace=False):
        length = int(rng.integers(1, 4))
        values[start : start + length] += rng.uniform(5, 10) * noise
        labels[start : start + length] = True
    return values, labels


def scores(values: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(tp, fp, fn) of the detector, the 3-sd static threshold and the best static one,
    over the days after the first."""
    static = values[:1440].mean() + 3 * values[:1440].std()
    found = np.zeros(9, dtype=int)
    for i in range(1440, len(values)):
        z = robust_z(values[i - LOOKBACK : i].tolist(), float(values[i]))
        found[0:3] += _count(anomalous(z, threshold=3.5, direction="above"), bool(labels[i]))
        found[3:6] += _count(bool(values[i] > static), bool(labels[i]))
    found[6:9] = _best_static(values[1440:], labels[1440:])
    return found


def _best_static(values: np.ndarray, labels: np.ndarray) -> np.ndarray:
    best, best_f1 = np.array([0, 0, int(labels.sum())]), -1.0
    for line in np.unique(values):
        flagged = values > line
        tp = int((flagged & labels).sum())
        fp, fn = int((flagged & ~labels).sum()), int((~flagged & labels).sum())
        f1 = 2 * tp / max(2 * tp + fp + fn, 1)
        if f1 > best_f1:
            best, best_f1 = np.array([tp, fp, fn]), f1
    return best


def _count(flagged: bool, label: bool) -> np.ndarray:
    return np.array([flagged and label, flagged and not label, label and not flagged], dtype=int)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a tiny size")
    args = parser.parse_args()
    count, minutes = (2, 1440 * 2) if args.quick else (20, 1440 * 3)
    rng = np.random.default_rng(5)
    totals = np.zeros(9, dtype=int)
    for _ in range(count):
        totals += scores(*series(rng, minutes))
    rows = {}
    for name, (tp, fp, fn) in zip(
        ("robust z", "static 3 sd", "best static"), totals.reshape(3, 3), strict=True
    ):
        rows[name] = (tp / max(tp + fp, 1), tp / max(tp + fn, 1))
    print(f"{count} series of {minutes // 1440} days, a sample a minute")
    print(f"{int(totals[0] + totals[2])} anomalous minutes after the first day")
    for name, (precision, recall) in rows.items():
        print(f"  {name:<12} precision {precision:6.1%}  recall {recall:6.1%}")
    against = "the best static threshold"
    ours, best = rows["robust z"], rows["best static"]
    ratio("missed anomalies", max(1 - ours[1], 0.001), max(1 - best[1], 0.001), against=against)
    ratio("false alarms", max(1 - ours[0], 0.001), max(1 - best[0], 0.001), against=against)


if __name__ == "__main__":
    main()
