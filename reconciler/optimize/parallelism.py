"""The parallelism optimizer: a workflow's `maxParallelism` from the daemon's own runs of
it, through the estimate `workflow analyze` makes (`run/history.py`).

Objective: the fewest steps in flight at once that keep the run close to as short as its
dependencies allow. Candidates are 1 up to the widest group of steps that can run side by
side; each gets `cost` (its parallelism relative to the current one: workers and load
held at once), `performance` (how much longer than the fastest candidate the expected run
is, as a share of it) and `reliability` (the share of the work in flight exposed to a
failing step: the steps' mean failure rate times the candidate over the widest group).
The lowest weighted sum (`optimization.weights`) wins and the table is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from reconciler.run import history
from reconciler.specs import flows
from reconciler.specs.optimization import Weights

OBJECTIVE = (
    "fewest steps in flight that keep the run near its shortest, weighing workers held "
    "(cost) against a longer run (performance) and work exposed to failures (reliability)"
)


@dataclass(frozen=True, kw_only=True)
class Spread:
    current: int
    candidates: tuple[dict[str, float], ...]
    chosen: int | None
    reason: str


def tune(
    workflow: flows.Workflow,
    stats: Mapping[str, history.StepStats],
    *,
    runs: int,
    weights: Weights,
) -> Spread:
    """The `maxParallelism` to propose for `workflow`, or why none is."""
    current = workflow.spec.max_parallelism
    if runs < 3:
        return Spread(current=current, candidates=(), chosen=None, reason=_few(runs))
    analysis = history.analyze(workflow, history=stats)
    width = max((len(g) for g in analysis.parallel_groups), default=1)
    known = [s for s in stats.values() if s.runs]
    failing = sum(1 - s.success_rate for s in known) / len(known) if known else 0.0
    expected = {p: _expected(workflow, stats, p) for p in range(1, width + 1)}
    fastest = min(expected.values())
    table = []
    for p, seconds in expected.items():
        cost, slower, exposed = p / current, seconds / fastest - 1, failing * p / width
        score = weights.cost * cost + weights.performance * slower + weights.reliability * exposed
        table.append(
            {
                "value": float(p),
                "expected": round(seconds, 3),
                "cost": round(cost, 4),
                "performance": round(slower, 4),
                "reliability": round(exposed, 4),
                "score": round(score, 4),
            }
        )
    best = min(table, key=lambda c: (c["score"], c["value"]))
    chosen = int(best["value"])
    facts = (
        f"{runs} runs: critical path {' > '.join(analysis.critical_path)}, widest group "
        f"{width}, steps fail {failing:.0%}; expected {best['expected']:g}s at {chosen}"
    )
    if chosen == current:
        return Spread(current=current, candidates=tuple(table), chosen=None, reason=facts)
    reason = f"{facts}: maxParallelism {current} -> {chosen}"
    return Spread(current=current, candidates=tuple(table), chosen=chosen, reason=reason)


def _expected(
    workflow: flows.Workflow, stats: Mapping[str, history.StepStats], parallelism: int
) -> float:
    spec = workflow.spec.model_copy(update={"max_parallelism": parallelism})
    tried = workflow.model_copy(update={"spec": spec})
    return history.analyze(tried, history=stats).expected_duration


def _few(runs: int) -> str:
    return f"only {runs} finished runs of the workflow; 3 needed"
