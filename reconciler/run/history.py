"""What past runs say about a workflow: step durations, success rates, the critical path.

`stats` folds stored runs (oldest first) into per-step figures: an exponentially weighted
mean duration (recent runs count more), the 95th percentile over a bounded window of recent
durations, the share of runs in which the step succeeded, how many runs needed a retry
and, for those that then succeeded, how long after the first failure the success started
(the recovery the retry backoff has to wait out). `analyze` estimates each
step (its history, else its wait or timeout, else a default) and returns the critical path
(the chain of dependencies that bounds the run), the groups of steps that can run side by
side, and the expected duration under the workflow's parallelism.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from reconciler.run import dag
from reconciler.runstate import RunKind, RunRecord, StepRecord, StepStatus
from reconciler.specs import flows, types
from reconciler.store.interfaces import Store


@dataclass(frozen=True, kw_only=True)
class StepStats:
    runs: int
    successes: int
    ewma: float | None  # seconds, of successful attempts
    p95: float | None
    retried: int = 0  # runs whose first attempt failed
    recoveries: tuple[float, ...] = ()  # seconds from a first failure to the success

    @property
    def success_rate(self) -> float:
        return self.successes / self.runs if self.runs else 0.0


@dataclass(frozen=True, kw_only=True)
class Analysis:
    critical_path: tuple[str, ...]
    parallel_groups: tuple[tuple[str, ...], ...]
    expected_duration: float  # seconds
    estimates: Mapping[str, float] = field(default_factory=dict)


@dataclass(kw_only=True)
class _Acc:
    runs: int = 0
    successes: int = 0
    ewma: float | None = None
    window: deque[float] = field(default_factory=deque)
    retried: int = 0
    recoveries: deque[float] = field(default_factory=deque)


def stats(
    history: Iterable[RunRecord], *, window: int = 100, alpha: float = 0.3
) -> dict[str, StepStats]:
    """Per-step figures of `history`, which is ordered oldest first."""
    acc: dict[str, _Acc] = {}
    for run in history:
        for record in _final_attempts(run).values():
            entry = acc.setdefault(
                record.name, _Acc(window=deque(maxlen=window), recoveries=deque(maxlen=window))
            )
            entry.runs += 1
            _retries(run, record, entry)
            seconds = _duration(record)
            if record.status is StepStatus.SUCCEEDED:
                entry.successes += 1
                if seconds is not None:
                    entry.window.append(seconds)
                    entry.ewma = (
                        seconds
                        if entry.ewma is None
                        else (alpha * seconds + (1 - alpha) * entry.ewma)
                    )
    return {
        name: StepStats(
            runs=a.runs,
            successes=a.successes,
            ewma=a.ewma,
            p95=percentile(list(a.window), 95),
            retried=a.retried,
            recoveries=tuple(a.recoveries),
        )
        for name, a in acc.items()
    }


async def load(store: Store, workflow: str, *, limit: int = 500) -> dict[str, StepStats]:
    """`stats` of the newest `limit` stored runs of the workflow named `workflow`."""
    found = await asyncio.to_thread(store.list_runs, kind=RunKind.WORKFLOW, limit=limit)
    return stats(reversed([run for run in found if run.name == workflow]))


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def analyze(
    workflow: flows.Workflow,
    *,
    history: Mapping[str, StepStats] | None = None,
    default: float = 1.0,
) -> Analysis:
    graph = dag.build(workflow.spec.steps)
    estimates = {
        n: estimate(graph.steps[n], (history or {}).get(n), default=default) for n in graph.order
    }
    finish: dict[str, float] = {}
    via: dict[str, str | None] = {}
    for name in graph.order:
        before = max(graph.deps(name), key=lambda d: finish[d], default=None)
        via[name] = before
        finish[name] = (finish[before] if before else 0.0) + estimates[name]
    path: list[str] = []
    node = max(finish, key=lambda n: finish[n], default=None)
    while node is not None:
        path.append(node)
        node = via[node]
    longest = max(finish.values(), default=0.0)
    spread = sum(estimates.values()) / workflow.spec.max_parallelism
    return Analysis(
        critical_path=tuple(reversed(path)),
        parallel_groups=tuple(tuple(g) for g in graph.levels()),
        expected_duration=max(longest, spread),
        estimates=estimates,
    )


def estimate(step: flows.Step, known: StepStats | None, *, default: float) -> float:
    if known is not None and known.ewma is not None:
        return known.ewma
    if step.wait is not None and step.wait.duration is not None:
        return types.seconds(step.wait.duration)
    if step.timeout is not None:
        return types.seconds(step.timeout)
    return default


def _final_attempts(run: RunRecord) -> dict[str, StepRecord]:
    found: dict[str, StepRecord] = {}
    for record in run.steps:
        if record.name.startswith("#") or record.status not in dag.DONE:
            continue
        if record.status is StepStatus.SKIPPED:
            continue
        if record.name not in found or record.attempt >= found[record.name].attempt:
            found[record.name] = record
    return found


def _retries(run: RunRecord, final: StepRecord, entry: _Acc) -> None:
    """Count a run whose first attempt of the step failed; keep its recovery time."""
    if final.attempt <= 1:
        return
    entry.retried += 1
    first = next((r for r in run.steps if r.name == final.name and r.attempt == 1), None)
    done = first.finished_at if first is not None else None
    if final.status is StepStatus.SUCCEEDED and done is not None and final.started_at:
        entry.recoveries.append((final.started_at - done).total_seconds())


def _duration(record: StepRecord) -> float | None:
    if record.started_at is None or record.finished_at is None:
        return None
    return (record.finished_at - record.started_at).total_seconds()
