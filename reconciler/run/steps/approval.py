"""The `approval` step: wait for a human's answer, escalating when it is slow.

`Engine.approve` delivers the answer (who, yes/no, a comment), which becomes the step's
outputs. A rejection fails the step. `timeout` counts from the step's first start in the
run, so a restart of the daemon does not give the question a new deadline. When it passes
unanswered, the step takes its declared default (`onTimeout`): `reject` fails it, `approve`
lets the run go on, both with `approver: timeout` and `expired: true` in the outputs. When
half the timeout has passed an `ApprovalEscalated` event naming the `escalate` list is
recorded so notifiers can chase the next people in line.
"""

from __future__ import annotations

from reconciler.run.steps import base
from reconciler.specs import flows, types

ESCALATED = "ApprovalEscalated"
TIMEOUT = "timeout"
"""The approver an unanswered approval is recorded with."""


class ApprovalKind:
    async def run(self, step: flows.Step, ctx: base.StepContext) -> base.StepResult:
        spec = step.approval
        assert spec is not None
        answer = await _answer(step.name, spec, ctx)
        if answer is None:
            return _expired(spec)
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


def _expired(spec: flows.Approval) -> base.StepResult:
    outputs = {"approved": spec.on_timeout == "approve", "approver": TIMEOUT, "expired": True}
    if spec.on_timeout == "approve":
        return base.StepResult(outputs=outputs)
    raise base.StepFailed(f"no approval within {spec.timeout}; default: reject", outputs=outputs)


async def _answer(name: str, spec: flows.Approval, ctx: base.StepContext) -> base.Approval | None:
    if spec.timeout is None:
        return await ctx.host.await_approval(name, timeout=None)
    total = types.seconds(spec.timeout)
    began = ctx.since or ctx.clock.now()
    left = total - (ctx.clock.now() - began).total_seconds()
    half = left - total / 2
    if spec.escalate and half > 0:
        answer = await ctx.host.await_approval(name, timeout=half)
        if answer is not None:
            return answer
        await ctx.host.record_event(
            type=ESCALATED,
            message=f"approval of {name} is waiting; escalating",
            data={"step": name, "escalate": list(spec.escalate), "message": spec.message},
        )
        left = total / 2
    return await ctx.host.await_approval(name, timeout=max(left, 0.0))


ROLES = ("viewer", "operator", "admin")
"""API roles from the least to the most trusted; `role:<role>` approvers accept any higher."""


def may_approve(approvers: list[str], *, name: str, role: str | None) -> bool:
    """Whether the token `name` with `role` is one of `approvers` (empty: anyone may)."""
    if not approvers or name in approvers:
        return True
    rank = ROLES.index(role) if role in ROLES else -1
    wanted = [a.removeprefix("role:") for a in approvers if a.startswith("role:")]
    return any(w in ROLES and rank >= ROLES.index(w) for w in wanted)
