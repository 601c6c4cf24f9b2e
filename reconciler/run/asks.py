"""Steps waiting for a human, as their runs' records in the store keep them.

The engine that runs a run is on one replica; the API and dashboard of every replica
sharing the store list what waits for an answer. So a step that waits (an `approval`
step, a `decision` whose level needs a human) has its current attempt recorded `waiting`
before it waits, with its question in the output (`ASKED`: prompt and approvers), and
recorded `running` again when it stops waiting (answered, timed out, escalating). The
step put to a human after a restart is recorded `waiting` by itself (`recovery.GATE`).
`waiting(run)` reads them back from any stored run: each step whose newest attempt waits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from reconciler.run import plans
from reconciler.run.steps.base import Ask
from reconciler.runstate import FINISHED, RunRecord, StepRecord, StepStatus

ASKED = "asked"
"""Output key of a waiting attempt's question: `{"prompt": ..., "approvers": [...]}`."""


def of_spec(plan: plans.ExecutionPlan, step: str) -> Ask:
    """What the approval spec of `step` asks, and of whom (nothing, without one)."""
    spec = next((s for s in [*plan.steps, *plan.on_failure] if s.name == step), None)
    approval = spec.approval if spec else None
    if approval is None:
        return Ask(prompt="")
    return Ask(prompt=approval.message, approvers=tuple(approval.approvers))


def asking(attempts: Iterable[StepRecord], step: str, ask: Ask) -> StepRecord | None:
    """The running attempt of `step` (its newest), recorded waiting with `ask`; None when
    that attempt is not running (a gate after a restart is recorded waiting already)."""
    newest = max((a for a in attempts if a.name == step), key=lambda a: a.attempt, default=None)
    if newest is None or newest.status is not StepStatus.RUNNING:
        return None
    question = {"prompt": ask.prompt, "approvers": list(ask.approvers)}
    return replace(newest, status=StepStatus.WAITING, output={**newest.output, ASKED: question})


def asked(record: StepRecord) -> Ask | None:
    """The question a waiting attempt recorded, or None (a gate's, or none recorded)."""
    found = record.output.get(ASKED)
    if not isinstance(found, dict):
        return None
    approvers = found.get("approvers")
    return Ask(
        prompt=str(found.get("prompt") or ""),
        approvers=tuple(str(a) for a in approvers) if isinstance(approvers, list) else (),
    )


def waiting(run: RunRecord) -> list[StepRecord]:
    """The newest attempt of each step of `run` that waits for an answer now (none once
    the run has finished), in the order the steps were first written."""
    if run.status in FINISHED:
        return []
    newest: dict[str, StepRecord] = {}
    for record in run.steps:
        known = newest.get(record.name)
        if record.name != plans.META and (known is None or record.attempt >= known.attempt):
            newest[record.name] = record
    return [r for r in newest.values() if r.status is StepStatus.WAITING]
