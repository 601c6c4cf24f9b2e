"""The safety pack over a run's commands before the engine starts it, on every path.

`vet` is what the engine's `Services.vet` calls for each run it is asked to start (a
workflow, a runbook, a workflow's `runbook` step, a remediation): the pack and the
repository's extensions read the spec as written and, for a runbook, with its variables
rendered, since a variable can turn a harmless command into a dangerous one. The engine
refuses a run with findings its spec does not allow and asks for an approval before one
whose `dangerousCommands` override allows them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.run.steps import base
from reconciler.runbooks import plan, safety
from reconciler.specs import flows
from reconciler.specs.snapshot import RegoFile


def findings(dangers: Sequence[safety.Danger]) -> tuple[str, ...]:
    """Each finding as one line: `step: message`, or the message for the whole spec."""
    return tuple(f"{d.step}: {d.message}" if d.step else d.message for d in dangers)


def vet(
    spec: flows.Workflow | flows.Runbook,
    variables: Mapping[str, Any],
    *,
    extensions: Sequence[RegoFile] = (),
    data: Mapping[str, Any] | None = None,
) -> base.Vetting:
    """The findings of the safety pack over `spec` (built here, so on the caller's thread)."""
    check = safety.SafetyCheck(extensions=extensions, data=data)
    document = spec.model_dump(mode="json", by_alias=True, exclude_none=True)
    found = set(check.check(document))
    if not isinstance(spec, flows.Runbook):
        return base.Vetting(findings=findings(sorted(found)))
    rendered = plan.build(model=spec, path="", body=document, given=variables).rendered
    found.update(check.check(rendered))
    override = spec.spec.dangerous_commands
    return base.Vetting(
        findings=findings(sorted(found)), allowed=override.allow, reason=override.reason
    )
