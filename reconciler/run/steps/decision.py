"""The `decision` step: branch on `when`, or let the daemon choose among `options`.

With `when`, outputs `result` (the truth of `when`) and `branch` ("then" or "else"); the
branch not taken is skipped. With `options`, the daemon scores them (the rules of `policy`,
default `data.reconciler.decisions.workflow`, and the recorded outcomes of earlier runs;
docs/decisions.md), asks a human first when the decision's level needs it, and skips the
`next` steps of the options not chosen; outputs `chosen`, `confidence`, `level`, `decision`
(the decision record's id) and `explanation`. A step named by several options is skipped
only when none of them is chosen.
"""

from __future__ import annotations

from reconciler.run import expressions
from reconciler.run.steps import base
from reconciler.specs import flows


class DecisionKind:
    async def run(self, step: flows.Step, ctx: base.StepContext) -> base.StepResult:
        spec = step.decision
        assert spec is not None
        if spec.when is None:
            return await _choose(step, spec, ctx)
        result = expressions.truthy(spec.when, ctx.scope)
        taken, other = (spec.then, spec.else_) if result else (spec.else_, spec.then)
        skip = tuple(name for name in other if name not in taken)
        branch = "then" if result else "else"
        return base.StepResult(outputs={"result": result, "branch": branch}, skip=skip)


async def _choose(
    step: flows.Step, spec: flows.DecisionSpec, ctx: base.StepContext
) -> base.StepResult:
    verdict = await ctx.services.decide(
        base.DecisionRequest(
            run_id=ctx.run_id,
            workflow=str(ctx.scope.get("run", {}).get("name", "")),
            step=step.name,
            options=tuple(o.name for o in spec.options),
            policy=spec.policy,
            facts={"vars": dict(ctx.scope.get("vars", {}))},
        )
    )
    outputs = {
        "chosen": verdict.chosen,
        "confidence": verdict.confidence,
        "level": verdict.level,
        "decision": verdict.decision,
        "explanation": verdict.explanation,
    }
    if verdict.ask is not None:
        answer = await ctx.host.await_approval(step.name, timeout=None, ask=verdict.ask)
        assert answer is not None
        outputs |= {"approver": answer.approver, "approved": answer.approved}
        if not answer.approved:
            raise base.StepFailed(
                f"{verdict.chosen} rejected by {answer.approver}", outputs=outputs
            )
    taken = next(o.next for o in spec.options if o.name == verdict.chosen)
    skip = {n for o in spec.options if o.name != verdict.chosen for n in o.next} - set(taken)
    return base.StepResult(outputs=outputs, skip=tuple(sorted(skip)))
