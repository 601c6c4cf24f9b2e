"""The `approval` step: wait for a human's answer, escalating when it is slow.

`Engine.approve` delivers the answer (who, yes/no, a comment), which becomes the step's
outputs. A rejection fails the step; no answer within `timeout` fails it too. When half
the timeout has passed an `ApprovalEscalated` event naming the `escalate` list is recorded
so notifiers can chase the next people in line.
"""

from __future__ import annotations

from reconciler.run.steps import base
from reconciler.specs import runs, types

ESCALATED = "ApprovalEscalated"


class Approval:
    async def run(self, step: runs.Step, ctx: base.StepContext) -> base.StepResult:
        spec = step.approval
        assert spec is not None
        timeout = types.seconds(spec.timeout) if spec.timeout else None
        answer = await _answer(step.name, spec, ctx, timeout=timeout)
        if answer is None:
            raise base.StepFailed(f"no approval within {spec.timeout}")
        outputs = {
            "approved": answer.approved,
            "approver": answer.approver,
            "comment": answer.comment,
            "at": answer.at,
        }
        if not answer.approved:
            why = f": {answer.comment}" if answer.comment else ""
            raise base.StepFailed(f"rejected by {answer.approver}{why}", outputs=outputs)
        return base.StepResult(outputs=outputs)


async def _answer(
    name: str, spec: runs.Approval, ctx: base.StepContext, *, timeout: float | None
) -> base.Approval | None:
    if timeout is None or not spec.escalate:
        return await ctx.host.await_approval(name, timeout=timeout)
    answer = await ctx.host.await_approval(name, timeout=timeout / 2)
    if answer is not None:
        return answer
    await ctx.host.record_event(
        type=ESCALATED,
        message=f"approval of {name} is waiting; escalating",
        data={"step": name, "escalate": list(spec.escalate), "message": spec.message},
    )
    return await ctx.host.await_approval(name, timeout=timeout / 2)
