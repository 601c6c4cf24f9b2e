"""The backoff optimizer: a workflow step's retry `backoff` from how long its failures
took to clear in the daemon's own runs (`run/history.py`: the recoveries `workflow
analyze` reads with the step durations).

Objective: the shortest backoff whose retries still reach past the failures seen. The
retry schedule waits `backoff`, then twice that, and so on (`run/retry.py`), so with
`maxAttempts` m its last attempt starts `backoff x (2^(m-1) - 1)` after the first
failure (jitter only shortens each wait to no less than half; the schedule is taken
without it). Candidates are the backoffs whose schedule just reaches the median, the
p90 and the longest recovery seen; each gets `cost` (the mean wait a retried run spends
until the attempt that follows its recovery, relative to the current backoff's) and
`reliability` (the share of recoveries the schedule does not reach: runs that would
fail). The lowest weighted sum (`optimization.weights`) wins and the table is kept.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from reconciler.run import history
from reconciler.specs.optimization import Weights

OBJECTIVE = (
    "shortest retry backoff whose schedule reaches past the recoveries seen, weighing the "
    "wait of retried runs (cost) against the runs it would let fail (reliability)"
)


@dataclass(frozen=True, kw_only=True)
class Backed:
    current: float
    candidates: tuple[dict[str, float], ...]
    chosen: float | None
    reason: str


def tune(
    stats: history.StepStats,
    *,
    step: str,
    current: float,
    attempts: int,
    min_change: float,
    weights: Weights,
) -> Backed:
    """The backoff (seconds) to propose for `step`, or why none is."""
    if attempts < 2:
        return Backed(current=current, candidates=(), chosen=None, reason=_never(step))
    found = sorted(stats.recoveries)
    if not found:
        why = f"no run of {step} recovered after a retry ({stats.retried} retried)"
        return Backed(current=current, candidates=(), chosen=None, reason=why)
    span = 2 ** (attempts - 1) - 1  # the schedule's reach, in backoffs
    reach = [history.percentile(found, q) or 0.0 for q in (50, 90, 100)]
    values = sorted({max(1.0, float(math.ceil(r / span))) for r in reach})
    base = _wait(found, current, attempts) or 1.0
    table = []
    for value in values:
        cost = _wait(found, value, attempts) / base
        missed = sum(r > value * span for r in found) / len(found)
        score = weights.cost * cost + weights.reliability * missed
        table.append(
            {
                "value": value,
                "cost": round(cost, 4),
                "reliability": round(missed, 4),
                "score": round(score, 4),
            }
        )
    best = min(table, key=lambda c: (c["score"], c["value"]))
    facts = (
        f"{step}: {len(found)} recoveries (median {reach[0]:g}s, longest {reach[2]:g}s) "
        f"in {stats.runs} runs, {stats.retried} retried"
    )
    if abs(best["value"] - current) / (current or 1.0) < min_change:
        reason = f"{facts}: backoff {current:g}s stays"
        return Backed(current=current, candidates=tuple(table), chosen=None, reason=reason)
    reason = f"{facts}: backoff {current:g}s -> {best['value']:g}s"
    return Backed(current=current, candidates=tuple(table), chosen=best["value"], reason=reason)


def _wait(recoveries: Sequence[float], backoff: float, attempts: int) -> float:
    """Mean seconds from the first failure to the first attempt at or after the recovery
    (the whole schedule when none is)."""
    starts = [backoff * (2**k - 1) for k in range(1, attempts)]
    waits = [next((s for s in starts if s >= r), starts[-1]) for r in recoveries]
    return float(sum(waits) / len(waits))


def _never(step: str) -> str:
    return f"{step}: maxAttempts 1, never retried"
