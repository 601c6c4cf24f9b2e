"""The run a remediation decision starts for a violating resource.

A remediation run is a small workflow built for the violation and the option the decision
chose: an approval step when the decision's level asks for one, and then one step running
the chosen runbook or workflow as a child run. The child gets the violation as variables:
a runbook only those it declares, so it can take `resource`, `name`, `namespace`, `kind`,
`binding` or `policy` by declaring them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reconciler.errors import UsageError
from reconciler.policy.decisions import Decision
from reconciler.specs import flows, models

APPROVE, REMEDIATE = "approve", "remediate"


def variables(decision: Decision) -> dict[str, Any]:
    """The violation as run variables."""
    ref = decision.resource
    return {
        "binding": decision.binding,
        "policy": decision.policy,
        "resource": ref.key,
        "kind": ref.kind,
        "namespace": ref.namespace or "",
        "name": ref.name,
        "messages": list(decision.messages),
    }


def costs(how: models.Remediation) -> dict[str, float]:
    """The costs the remediation declares, by option name (`runbook:<name>`, ...)."""
    found = {f"{k}:{t}": how.cost for k, t in options(how)[:1] if how.cost is not None}
    for o in how.options:
        if o.cost is not None:
            found[f"runbook:{o.runbook}" if o.runbook else f"workflow:{o.workflow}"] = o.cost
    return found


def options(how: models.Remediation) -> list[tuple[str, str]]:
    """The remediation's options as (kind, target): its runbook or workflow, then `options`."""
    found = [("runbook", how.runbook)] if how.runbook else []
    found += [("workflow", how.workflow)] if how.workflow else []
    found += [
        ("runbook", o.runbook) if o.runbook else ("workflow", o.workflow or "") for o in how.options
    ]
    return list(dict.fromkeys(found))


def workflow(
    decision: Decision,
    option: tuple[str, str],
    *,
    approval: dict[str, Any] | None,
    runbook: Callable[[str], flows.Runbook | None],
) -> flows.Workflow:
    """The remediation run's spec: `option` = (kind, target), behind `approval` (the
    approval step's spec without its message) when given; `UsageError` when the option
    names nothing runnable."""
    kind, target = option
    given = {k: v for k, v in variables(decision).items() if isinstance(v, str)}
    if kind == "runbook":
        book = runbook(target)
        if book is None:
            raise UsageError(f'binding {decision.binding}: no runbook "{target}"')
        declared = {v.name for v in book.spec.variables}
        call: dict[str, Any] = {
            "kind": "runbook",
            "runbook": {
                "name": target,
                "variables": {k: _literal(v) for k, v in given.items() if k in declared},
            },
        }
    else:
        call = {
            "kind": "subflow",
            "subflow": {"workflow": target, "inputs": {k: _literal(v) for k, v in given.items()}},
        }
    steps: list[dict[str, Any]] = []
    if approval is not None:
        message = (
            f"{decision.resource.key} violates {decision.binding}: "
            f"{'; '.join(decision.messages) or decision.outcome.value}. Run {kind} {target}?"
        )
        steps.append(
            {"name": APPROVE, "kind": "approval", "approval": {"message": message, **approval}}
        )
    steps.append({"name": REMEDIATE, **call, "dependsOn": [APPROVE] if steps else []})
    return flows.Workflow.model_validate(
        {
            "apiVersion": models.API_VERSION,
            "kind": "Workflow",
            "metadata": {"name": f"remediate-{decision.binding}"[:63].rstrip("-")},
            "spec": {"description": f"remediation of {decision.resource.key}", "steps": steps},
        }
    )


def _literal(value: str) -> str:
    """A value that templating leaves as it is (names and keys hold no braces anyway)."""
    return value.replace("{{", "{ {")
