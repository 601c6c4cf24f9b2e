"""The `wait` step: a fixed delay, or polling an expression until it holds.

Both sleep through the injected sleep function, so tests need not wait for real. A poll
re-reads `ctx.scope` each time; the step's timeout bounds how long it may poll.
"""

from __future__ import annotations

from reconciler.run import expressions
from reconciler.run.steps import base
from reconciler.specs import flows, types


class WaitKind:
    async def run(self, step: flows.Step, ctx: base.StepContext) -> base.StepResult:
        spec = step.wait
        assert spec is not None
        if spec.duration is not None:
            await ctx.sleep(types.seconds(spec.duration))
            return base.StepResult(outputs={"waited": types.seconds(spec.duration)})
        assert spec.until is not None
        expressions.parse(spec.until)
        polls = 1
        while not expressions.truthy(spec.until, ctx.scope):
            await ctx.sleep(types.seconds(spec.interval))
            polls += 1
        return base.StepResult(outputs={"polls": polls})
