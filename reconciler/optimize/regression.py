"""Did a change make a metric worse? Before/after windows compared by a stated test.

The test is SciPy's one-sided Mann-Whitney U test (rank-sum: no assumption about the
metric's distribution) of "the after window tends to be worse than the before window", at
significance `alpha`, together with a minimum effect: the median must have moved in the
worse direction by at least `min_effect` (relative to the before median). Both must hold:
with long windows a test alone would flag changes too small to matter, and an effect
alone would flag noise. `benchmarks/regression.py` measures its false-positive and
detection rates on series with known shifts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Verdict:
    regressed: bool
    p_value: float  # one-sided: after worse than before
    effect: float  # relative change of the median, positive = worse
    before_median: float
    after_median: float
    reason: str


def compare(
    before: Sequence[float],
    after: Sequence[float],
    *,
    higher_is_worse: bool = True,
    alpha: float = 0.01,
    min_effect: float = 0.05,
) -> Verdict:
    """Whether `after` regressed from `before`; `ValueError` under 3 samples a side."""
    a, b = np.asarray(before, dtype=float), np.asarray(after, dtype=float)
    if len(a) < 3 or len(b) < 3:
        raise ValueError("each window needs at least 3 samples")
    sign = 1.0 if higher_is_worse else -1.0
    p = float(stats.mannwhitneyu(sign * b, sign * a, alternative="greater").pvalue)
    m_before, m_after = float(np.median(a)), float(np.median(b))
    scale = abs(m_before) or 1.0
    effect = sign * (m_after - m_before) / scale
    regressed = p < alpha and effect >= min_effect
    if regressed:
        reason = f"worse by {effect:.1%} (median), p = {p:.2g} < {alpha:g}"
    elif p >= alpha:
        reason = f"no significant change (p = {p:.2g}, alpha {alpha:g})"
    else:
        reason = f"significant but small: {effect:.1%} under the minimum {min_effect:.0%}"
    return Verdict(regressed, p, effect, m_before, m_after, reason)
