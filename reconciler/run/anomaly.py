"""Is the newest sample of a metric out of line with its recent past? A robust z-score.

The baseline is the samples before the newest one within the trigger's lookback: their
median and their median absolute deviation (MAD), which a few earlier outliers do not
drag along as a mean and standard deviation would. The score is 0.6745 x (value - median)
/ MAD (Iglewicz and Hoaglin's modified z-score; above 3.5 is their suggested outlier
line). A baseline with no spread (MAD 0) uses the mean absolute deviation, and a constant
one scores any different value as infinitely far. `benchmarks/anomaly.py` measures the
precision and recall on labelled synthetic series.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

MIN_BASELINE = 5
"""Samples the baseline needs before a score means anything."""


def robust_z(baseline: Sequence[float], value: float) -> float | None:
    """The modified z-score of `value` against `baseline`; None with too few samples."""
    if len(baseline) < MIN_BASELINE:
        return None
    median = statistics.median(baseline)
    deviations = [abs(v - median) for v in baseline]
    mad = statistics.median(deviations)
    if mad > 0:
        return 0.6745 * (value - median) / mad
    mean_ad = statistics.fmean(deviations)
    if mean_ad > 0:
        return (value - median) / (1.253314 * mean_ad)
    return 0.0 if value == median else math.copysign(math.inf, value - median)


def anomalous(z: float | None, *, threshold: float, direction: str) -> bool:
    """Whether a score crosses `threshold` in `direction` (above, below or both)."""
    if z is None:
        return False
    if direction == "above":
        return z > threshold
    if direction == "below":
        return z < -threshold
    return abs(z) > threshold
