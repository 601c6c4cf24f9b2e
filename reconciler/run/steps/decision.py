"""The `decision` step: evaluate `when` and skip the branch not taken.

Outputs `result` (the truth of `when`) and `branch` ("then" or "else"). A step named in
both branches is never skipped by the decision. Option scoring (`options` with a policy)
is the remediation layer's and fails here with a message saying so.
"""

from __future__ import annotations

from reconciler.run import expressions
from reconciler.run.steps import base
from reconciler.specs import runs


class Decision:
    async def run(self, step: runs.Step, ctx: base.StepContext) -> base.StepResult:
        spec = step.decision
        assert spec is not None
        if spec.when is None:
            raise base.StepFailed("decision options are scored by remediation runs only")
        result = expressions.truthy(spec.when, ctx.scope)
        taken, other = (spec.then, spec.else_) if result else (spec.else_, spec.then)
        skip = tuple(name for name in other if name not in taken)
        branch = "then" if result else "else"
        return base.StepResult(outputs={"result": result, "branch": branch}, skip=skip)
