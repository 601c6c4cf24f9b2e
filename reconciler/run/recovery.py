"""What a run already did, read back from its step records, and what is left to redo.

`Prior` is the per-step state of an execution: the newest record of each step, every
attempt, which steps a branch ruled out and the order steps finished in. `from_run`
rebuilds it from a stored run after a restart, deciding for each interrupted step: a step
that was `running` is run again when that is safe (`idempotent: true`, or a kind without
side effects), re-attached when it waits on a child run, and otherwise put to a human
(`gated`), who approves a new attempt or rejects it, which fails the step. Either way the
attempt that was `running` is closed as `interrupted`, with the time the restart found it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from reconciler.run import dag, plans, retry
from reconciler.runstate import RunRecord, StepRecord, StepStatus
from reconciler.specs import flows

GATE = "resumeGate"
"""Output key of the `waiting` record of a step put to a human after a restart."""

_SAFE = frozenset(
    {flows.StepKind.WAIT, flows.StepKind.DECISION, flows.StepKind.APPROVAL, flows.StepKind.POLICY}
)
_REATTACH = frozenset({flows.StepKind.SUBFLOW, flows.StepKind.RUNBOOK})
INTERRUPTIBLE = (StepStatus.RUNNING, StepStatus.INTERRUPTED)


def interrupted(run: RunRecord, *, at: datetime) -> list[StepRecord]:
    """The attempts a dead daemon left `running`, or `waiting` for an answer it can no
    longer take (`run.asks`; a gate's waits on), closed as `interrupted` at `at`, so no
    attempt stays `running` or asks on once the run moves on."""
    return [
        replace(s, status=StepStatus.INTERRUPTED, finished_at=at)
        for s in run.steps
        if s.name != plans.META
        and (
            s.status is StepStatus.RUNNING
            or (s.status is StepStatus.WAITING and not s.output.get(GATE))
        )
    ]


@dataclass(kw_only=True)
class Prior:
    records: dict[str, StepRecord] = field(default_factory=dict)  # newest per step
    attempts: dict[tuple[str, int], StepRecord] = field(default_factory=dict)
    states: dict[str, StepStatus] = field(default_factory=dict)
    skip: set[str] = field(default_factory=set)
    gated: set[str] = field(default_factory=set)
    reattach: set[str] = field(default_factory=set)
    finished: list[str] = field(default_factory=list)

    def add(self, record: StepRecord) -> None:
        self.records[record.name] = record
        self.attempts[(record.name, record.attempt)] = record
        if record.status in dag.DONE and record.name not in self.finished:
            self.finished.append(record.name)

    def next_attempt(self, name: str) -> int:
        """The attempt number the step's next start gets (re-attaching keeps the last)."""
        last = max((a for n, a in self.attempts if n == name), default=0)
        if name in self.reattach:
            self.reattach.discard(name)
            return max(last, 1)
        return last + 1

    @property
    def history(self) -> list[StepRecord]:
        return list(self.attempts.values())


def rerunnable(step: flows.Step) -> bool:
    """Whether running the step again after a restart is harmless."""
    return step.idempotent or step.kind in _SAFE


def from_run(run: RunRecord, plan: plans.ExecutionPlan) -> Prior:
    prior = Prior()
    for record in run.steps:
        if record.name != plans.META:
            prior.add(record)
    steps = {s.name: s for s in [*plan.steps, *plan.on_failure]}
    for name, record in prior.records.items():
        step = steps.get(name)
        if step is not None:
            _classify(prior, step, record)
    return prior


def _classify(prior: Prior, step: flows.Step, record: StepRecord) -> None:
    name, status = step.name, record.status
    if status is StepStatus.SUCCEEDED:
        prior.states[name] = status
        prior.skip.update(record.output.get("skipped", []))
    elif status in (StepStatus.SKIPPED, StepStatus.CANCELLED):
        prior.states[name] = status
    elif status is StepStatus.FAILED:
        if not _retry_left(step, record):
            prior.states[name] = status
    elif status is StepStatus.WAITING and record.output.get(GATE):
        prior.gated.add(name)
    elif status in INTERRUPTIBLE and not rerunnable(step):
        (prior.reattach if step.kind in _REATTACH else prior.gated).add(name)


def _retry_left(step: flows.Step, record: StepRecord) -> bool:
    """Whether the attempt that failed before the restart would have been retried."""
    code = record.output.get("exitCode")
    failure = retry.Failure(
        exit_code=code if isinstance(code, int) else None,
        timed_out=(record.error or "").startswith("timed out"),
        retryable=not (record.error or "").startswith("rejected by"),
    )
    return retry.RetryPolicy.of(step.retry).should_retry(attempt=record.attempt, failure=failure)


ROLLBACK_SUFFIX = ".rollback"
"""A rollback runs as a step named after the step it undoes: `<step>.rollback`."""


def rollbacks(plan: plans.ExecutionPlan, prior: Prior) -> list[flows.Step]:
    """For a failed runbook: the rollback of each step that succeeded, newest first, in a
    chain. A step that failed is not rolled back: what it left is for a human to see."""
    if not isinstance(plan.spec, flows.Runbook):
        return []
    by_name = {s.name: s for s in plan.spec.spec.steps}
    done = [
        n
        for n in reversed(prior.finished)
        if n in by_name and prior.states.get(n) is StepStatus.SUCCEEDED
    ]
    chain: list[flows.Step] = []
    for name in done:
        step = by_name[name]
        if step.rollback is None:
            continue
        depends = [chain[-1].name] if chain else []
        chain.append(
            flows.Step(
                name=f"{name}{ROLLBACK_SUFFIX}",
                command=step.rollback.command,
                shell=step.rollback.shell,
                env=step.rollback.env,
                timeout=step.rollback.timeout or step.timeout or plan.spec.spec.timeout,
                depends_on=depends,
                always=True,
            )
        )
    return chain
