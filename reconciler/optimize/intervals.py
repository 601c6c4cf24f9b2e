"""The interval optimizer: the repository's reconcile `interval` from the daemon's own
reconcile runs (their durations and failure rate, as `run/history.py` reads step runs).

Objective: correct drift as soon as possible while passes keep the daemon busy no more
than a budgeted share of the time. Candidates are the p95 pass duration over half, the
configured and twice the `busy` share, clamped to `min`..`max`; each gets `cost` (its busy
share over the budget) and `reliability` (its interval over `max`: how late drift is
corrected). The lowest weighted sum (`optimization.weights`) wins and the table is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reconciler.optimize.records import duration
from reconciler.run import history
from reconciler.runstate import FINISHED, RunRecord, RunStatus
from reconciler.specs import types
from reconciler.specs.optimization import Interval, Weights

OBJECTIVE = (
    "shortest reconcile interval whose passes (p95) keep the daemon busy under its budget, "
    "weighing busy time (cost) against how late drift is corrected (reliability)"
)


@dataclass(frozen=True, kw_only=True)
class Timed:
    """The interval to propose, or why none is, with the table of candidates."""

    current: float
    p95: float
    failure_rate: float
    candidates: tuple[dict[str, float], ...]
    chosen: float | None
    reason: str


def tune(runs: Sequence[RunRecord], *, current: float, item: Interval, weights: Weights) -> Timed:
    durations = [_seconds(r) for r in runs if r.status in FINISHED and _seconds(r) is not None]
    failed = sum(r.status is RunStatus.FAILED for r in runs if r.status in FINISHED)
    p95 = history.percentile([d for d in durations if d is not None], 95)
    if p95 is None or len(durations) < 3:
        return Timed(
            current=current,
            p95=0.0,
            failure_rate=0.0,
            candidates=(),
            chosen=None,
            reason=f"only {len(durations)} finished reconcile runs; 3 needed",
        )
    rate = failed / len(durations)
    low, high = types.seconds(item.min), types.seconds(item.max)
    table = []
    for busy in sorted({item.busy / 2, item.busy, item.busy * 2}):
        value = float(round(min(max(p95 / busy, low), high)))
        cost, late = (p95 / value) / item.busy, value / high
        table.append(
            {
                "busy": busy,
                "value": value,
                "cost": round(cost, 4),
                "reliability": round(late, 4),
                "score": round(weights.cost * cost + weights.reliability * late, 4),
            }
        )
    best = min(table, key=lambda c: (c["score"], c["value"]))
    facts = f"p95 pass {p95:g}s over {len(durations)} runs ({rate:.0%} failed)"
    if abs(best["value"] - current) / (current or 1.0) < item.min_change:
        return Timed(
            current=current,
            p95=p95,
            failure_rate=rate,
            candidates=tuple(table),
            chosen=None,
            reason=f"{facts}: {duration(best['value'])} is close to {duration(current)}",
        )
    reason = f"{facts}: interval {duration(current)} -> {duration(best['value'])}"
    return Timed(
        current=current,
        p95=p95,
        failure_rate=rate,
        candidates=tuple(table),
        chosen=best["value"],
        reason=reason,
    )


def _seconds(run: RunRecord) -> float | None:
    if run.started_at is None or run.finished_at is None:
        return None
    return (run.finished_at - run.started_at).total_seconds()
