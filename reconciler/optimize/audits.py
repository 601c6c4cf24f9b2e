"""The audit optimizer: the repository's `auditInterval` from how often the daemon found
drift (the `DriftDetected` events of a source in its event feed).

Objective: audit as rarely as possible while drift does not stand undetected for long.
Drift arrives at a rate λ (detections per second over the history read); an audit every
T seconds leaves a drift standing T/2 on average, so about λT/2 drifts stand undetected at
any time. Candidates are the intervals that keep that at half, the configured and twice
the `standing` budget, clamped to `min`..`max`; each gets `cost` (audits it runs relative
to the current interval: current / candidate) and `reliability` (the drifts it leaves
standing over the budget). No drift at all asks for `max`. The lowest weighted sum
(`optimization.weights`) wins and the table is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from reconciler.optimize.records import duration
from reconciler.specs import types
from reconciler.specs.optimization import Audit, Weights

OBJECTIVE = (
    "longest audit interval that leaves drift standing undetected within its budget, "
    "weighing audits run (cost) against drift standing (reliability)"
)


@dataclass(frozen=True, kw_only=True)
class Audited:
    current: float
    rate: float  # drifts per hour
    candidates: tuple[dict[str, float], ...]
    chosen: float | None
    reason: str


def tune(
    drifts: Sequence[datetime],
    *,
    since: datetime,
    until: datetime,
    current: float,
    item: Audit,
    weights: Weights,
) -> Audited:
    """The interval (seconds) to propose, from the drifts detected between `since` and
    `until` (the history read)."""
    span = (until - since).total_seconds()
    seen = [d for d in drifts if since <= d <= until]
    rate = len(seen) / span if span > 0 else 0.0
    low, high = types.seconds(item.min), types.seconds(item.max)
    table = []
    for budget in sorted({item.standing / 2, item.standing, item.standing * 2}):
        value = high if rate == 0 else float(round(min(max(2 * budget / rate, low), high)))
        cost, standing = current / value, rate * value / 2 / item.standing
        table.append(
            {
                "standing": budget,
                "value": value,
                "cost": round(cost, 4),
                "reliability": round(standing, 4),
                "score": round(weights.cost * cost + weights.reliability * standing, 4),
            }
        )
    best = min(table, key=lambda c: (c["score"], -c["value"]))
    hourly = rate * 3600
    facts = f"{len(seen)} drifts in {duration(span)} ({hourly:.2g}/h)"
    if abs(best["value"] - current) / (current or 1.0) < item.min_change:
        reason = f"{facts}: {duration(best['value'])} is close to {duration(current)}"
        return Audited(
            current=current, rate=hourly, candidates=tuple(table), chosen=None, reason=reason
        )
    reason = f"{facts}: audit interval {duration(current)} -> {duration(best['value'])}"
    return Audited(
        current=current, rate=hourly, candidates=tuple(table), chosen=best["value"], reason=reason
    )
