"""The scaling optimizer: an autoscaler's target utilisation and its replica bounds, from
what its utilisation, replicas and latency were.

Objective: the highest target utilisation (fewest replicas) at which the latency served
stayed under its objective, with bounds that cover the demand seen. The demand of each
sample is its utilisation times its replicas (replicas' worth of work). Each candidate
target gets three costs: `cost` (the replicas it asks for relative to the current target:
current / candidate), `performance` (the share of the samples taken at or above that
utilisation whose latency was over the objective: how often running that hot was slow)
and `reliability` (the share of samples whose demand at that target would have needed
more replicas than the current maximum: saturation). Targets above every utilisation seen
have no evidence and are left out. The lowest weighted sum (`optimization.weights`) wins,
and the whole table is kept in the proposal. The bounds follow the chosen target:
`min` the replicas the lowest demand (p5) needs, `max` the replicas the peak needs plus
`headroom`. The three series are read over the same window and step and paired sample
by sample.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from reconciler.specs.optimization import Scaling, Weights

OBJECTIVE = (
    "highest target utilisation at which latency stayed under its objective, weighing "
    "replicas (cost) against slow responses when running hot (performance) and demand "
    "above the maximum replicas (reliability); bounds cover the demand seen"
)
NEAR = 0.05  # a sample within this much utilisation of a target counts as running at it


@dataclass(frozen=True, kw_only=True)
class Scaled:
    """The target and bounds to propose (None: no change), or why none is."""

    current: float
    candidates: tuple[dict[str, float], ...]
    target: float | None
    min_replicas: int | None
    max_replicas: int | None
    reason: str


def tune(
    utilisation: Sequence[float],
    replicas: Sequence[float],
    latency: Sequence[float],
    *,
    current: float,
    current_max: float | None,
    item: Scaling,
    weights: Weights,
) -> Scaled:
    """The target (a share) and the bounds the paired samples call for."""
    n = min(len(utilisation), len(replicas), len(latency))
    samples = [
        (u, u * r, lat)
        for u, r, lat in zip(utilisation[:n], replicas[:n], latency[:n], strict=True)
        if r > 0
    ]
    if len(samples) < 3:
        return _none(current, (), f"only {len(samples)} paired samples; 3 needed")
    seen = max(u for u, _, _ in samples)
    table = tuple(
        _candidate(samples, t, current=current, current_max=current_max, item=item, weights=weights)
        for t in item.targets
        if t <= seen + NEAR
    )
    if not table:
        return _none(current, (), f"utilisation never reached {min(item.targets):g}")
    best = min(table, key=lambda c: (c["score"], -c["value"]))
    demands = sorted(d for _, d, _ in samples)
    low = max(1, math.ceil(_percentile(demands, 5) / best["value"]))
    high = max(low, math.ceil(demands[-1] * (1 + item.headroom) / best["value"]))
    facts = (
        f"peak demand {demands[-1]:.3g} replicas over {len(samples)} samples; "
        f"at or above {best['value']:g} utilisation "
        f"{best['performance']:.0%} of the latency was over {item.latency_objective:g}"
    )
    moved = abs(best["value"] - current) / (current or 1.0) >= item.min_change
    reason = f"{facts}: target {current:g} -> {best['value']:g}" if moved else facts
    return Scaled(
        current=current,
        candidates=table,
        target=best["value"] if moved else None,
        min_replicas=low,
        max_replicas=high,
        reason=f"{reason}; replicas {low}..{high}",
    )


def _candidate(
    samples: Sequence[tuple[float, float, float]],
    target: float,
    *,
    current: float,
    current_max: float | None,
    item: Scaling,
    weights: Weights,
) -> dict[str, float]:
    hot = [lat for u, _, lat in samples if u >= target - NEAR]
    slow = sum(lat > item.latency_objective for lat in hot) / len(hot) if hot else 0.0
    cap = current_max if current_max is not None else math.inf
    saturated = sum(math.ceil(d / target) > cap for _, d, _ in samples) / len(samples)
    cost = current / target
    score = weights.cost * cost + weights.performance * slow + weights.reliability * saturated
    return {
        "value": target,
        "cost": round(cost, 4),
        "performance": round(slow, 4),
        "reliability": round(saturated, 4),
        "score": round(score, 4),
    }


def _none(current: float, table: tuple[dict[str, float], ...], reason: str) -> Scaled:
    return Scaled(
        current=current,
        candidates=table,
        target=None,
        min_replicas=None,
        max_replicas=None,
        reason=reason,
    )


def _percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of sorted `values`."""
    rank = max(1, math.ceil(len(values) * q / 100))
    return values[rank - 1]
