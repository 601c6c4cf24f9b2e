"""The sizing optimizer: a resource field sized from a utilisation percentile plus headroom.

Objective: the lowest value that the workload's utilisation stays under, weighed against
the risk of running hot or saturated. Each candidate value (the percentile with half, the
configured and twice the headroom) gets three costs, each in [0, ...): `cost` (the value
relative to the current one), `performance` (the share of samples above 80% of the value:
running hot) and `reliability` (the share of samples above the value: saturated). The
candidate with the lowest weighted sum (`optimization.weights`) is proposed, and the whole
table is kept in the proposal so a reviewer sees the trade-off.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.specs.optimization import Sizing, Weights

OBJECTIVE = (
    "lowest value above the utilisation percentile plus headroom, weighing cost against "
    "running hot (performance) and saturation (reliability)"
)
HOT = 0.8  # a sample above this share of the value counts as running hot


@dataclass(frozen=True, kw_only=True)
class Candidate:
    headroom: float
    value: float
    cost: float
    performance: float
    reliability: float
    score: float  # weighted sum of the three; lower is better


@dataclass(frozen=True, kw_only=True)
class Sized:
    """The value proposed for a field, or why none is."""

    current: float
    percentile: float
    candidates: tuple[Candidate, ...]
    chosen: Candidate | None
    reason: str


def size(
    samples: Sequence[float],
    *,
    current: float,
    sizing: Sizing,
    weights: Weights,
    pick: Callable[[tuple[Candidate, ...]], Candidate] | None = None,
) -> Sized:
    """The candidate to propose for `current`, from the utilisation `samples`: the lowest
    score, or the one `pick` (the learner) chooses from the table."""
    values = sorted(samples)
    if len(values) < 3:
        return Sized(
            current=current,
            percentile=0.0,
            candidates=(),
            chosen=None,
            reason=f"only {len(values)} utilisation samples; 3 needed",
        )
    level = _percentile(values, sizing.percentile)
    headrooms = sorted({sizing.headroom / 2, sizing.headroom, sizing.headroom * 2})
    table = tuple(
        _candidate(values, level=level, headroom=h, current=current, sizing=sizing, weights=weights)
        for h in headrooms
    )
    best = pick(table) if pick else min(table, key=lambda c: (c.score, c.value))
    change = abs(best.value - current) / (abs(current) or 1.0)
    if change < sizing.min_change:
        return Sized(
            current=current,
            percentile=level,
            candidates=table,
            chosen=None,
            reason=f"{best.value:g} is within {sizing.min_change:.0%} of {current:g}",
        )
    reason = (
        f"p{sizing.percentile:g} of {sizing.query} is {level:g}; with "
        f"{best.headroom:.0%} headroom {current:g} -> {best.value:g}"
    )
    return Sized(current=current, percentile=level, candidates=table, chosen=best, reason=reason)


def current_value(body: dict[str, Any], field: str) -> float | None:
    """The number at `field` (dotted keys) of a document, None when absent or not one."""
    node: Any = body
    for key in field.split("."):
        node = node.get(key) if isinstance(node, dict) else None
    return float(node) if isinstance(node, int | float) and not isinstance(node, bool) else None


def _candidate(
    values: Sequence[float],
    *,
    level: float,
    headroom: float,
    current: float,
    sizing: Sizing,
    weights: Weights,
) -> Candidate:
    value = round(level * (1 + headroom), sizing.precision)
    n = len(values)
    cost = value / (abs(current) or 1.0)
    hot = sum(v > HOT * value for v in values) / n
    saturated = sum(v > value for v in values) / n
    score = weights.cost * cost + weights.performance * hot + weights.reliability * saturated
    return Candidate(
        headroom=headroom,
        value=value,
        cost=round(cost, 4),
        performance=round(hot, 4),
        reliability=round(saturated, 4),
        score=round(score, 4),
    )


def _percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of sorted `values` (a value that was actually seen)."""
    rank = max(1, -(-len(values) * q // 100))
    return values[int(rank) - 1]
