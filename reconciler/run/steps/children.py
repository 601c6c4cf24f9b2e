"""The `subflow` and `runbook` steps: a child run the step waits for.

The child's id is fixed by the parent run, the step and the attempt, so after a restart
the step re-attaches to the child it started instead of starting another. The child's
step outputs become the step's outputs; a child that did not succeed fails the step.
"""

from __future__ import annotations

from typing import Any

from reconciler.errors import UsageError
from reconciler.run import templating
from reconciler.run.steps import base
from reconciler.runstate import RunKind, RunRecord, RunStatus, StepStatus
from reconciler.specs import flows


def child_id(ctx: base.StepContext, step: flows.Step) -> str:
    return f"{ctx.run_id}/{step.name}#{ctx.attempt}"


class SubflowKind:
    async def run(self, step: flows.Step, ctx: base.StepContext) -> base.StepResult:
        spec = step.subflow
        assert spec is not None
        workflow = ctx.services.workflow(spec.workflow)
        if workflow is None:
            raise base.StepFailed(f'no workflow "{spec.workflow}"')
        variables = templating.render_value(dict(spec.inputs), ctx.scope)
        return await _child(ctx, step, kind=RunKind.WORKFLOW, spec=workflow, variables=variables)


class RunbookKind:
    async def run(self, step: flows.Step, ctx: base.StepContext) -> base.StepResult:
        spec = step.runbook
        assert spec is not None
        runbook = ctx.services.runbook(spec.name)
        if runbook is None:
            raise base.StepFailed(f'no runbook "{spec.name}"')
        variables = templating.render_value(dict(spec.variables), ctx.scope)
        return await _child(ctx, step, kind=RunKind.RUNBOOK, spec=runbook, variables=variables)


async def _child(
    ctx: base.StepContext,
    step: flows.Step,
    *,
    kind: RunKind,
    spec: flows.Workflow | flows.Runbook,
    variables: Any,
) -> base.StepResult:
    """The child run's result; a child refused before it starts (its variables, the safety
    policy) fails the step with the reason."""
    try:
        child = await ctx.host.run_child(
            kind=kind, spec=spec, variables=variables, child_id=child_id(ctx, step)
        )
    except UsageError as exc:
        raise base.StepFailed(str(exc)) from None
    return _result(child)


def _result(child: RunRecord) -> base.StepResult:
    latest: dict[str, Any] = {}
    for record in child.steps:
        if record.status is StepStatus.SUCCEEDED:
            latest[record.name] = record.output
    outputs = {"runId": child.id, "status": child.status.value, "steps": latest}
    if child.status is not RunStatus.SUCCEEDED:
        raise base.StepFailed(
            f"run {child.id} {child.status.value}: {child.error or ''}".rstrip(": "),
            outputs=outputs,
        )
    return base.StepResult(outputs=outputs)
