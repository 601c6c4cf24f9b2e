"""The `reconcile` and `policy` steps: calls into the daemon through injected services.

`reconcile` asks for a sync of one source (or all) and waits for it. `policy` evaluates a
Rego package on the rendered input; with `allow`/`deny` step lists it branches (the list
not chosen is skipped), without them a deny fails the step.
"""

from __future__ import annotations

from typing import Any

from reconciler.run import templating
from reconciler.run.steps import base
from reconciler.specs import flows


class ReconcileKind:
    async def run(self, step: flows.Step, ctx: base.StepContext) -> base.StepResult:
        source = step.reconcile.source if step.reconcile else None
        result = await ctx.services.request_sync(source)
        outputs: dict[str, Any] = {"source": source}
        if isinstance(result, dict | str | int | float | bool | list):
            outputs["result"] = result
        return base.StepResult(outputs=outputs)


class PolicyKind:
    async def run(self, step: flows.Step, ctx: base.StepContext) -> base.StepResult:
        spec = step.policy
        assert spec is not None
        document = templating.render_value(dict(spec.input), ctx.scope)
        verdict = await ctx.services.evaluate_policy(spec.policy, document)
        outputs = {"allowed": verdict.allowed, "messages": list(verdict.messages)}
        if not (spec.allow or spec.deny):
            if not verdict.allowed:
                reasons = "; ".join(verdict.messages) or "denied"
                raise base.StepFailed(f"{spec.policy}: {reasons}", outputs=outputs)
            return base.StepResult(outputs=outputs)
        taken, other = (spec.allow, spec.deny) if verdict.allowed else (spec.deny, spec.allow)
        return base.StepResult(outputs=outputs, skip=tuple(n for n in other if n not in taken))
