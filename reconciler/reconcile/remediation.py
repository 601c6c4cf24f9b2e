"""The run a binding's `remediation` asks for when one of its resources starts violating it.

A remediation run is a small workflow built for the violation: an approval step (unless
the binding says `approval: auto`) and then one step running the bound runbook or
workflow as a child run. `confidence` asks a human too until decisions are scored.
The child gets the violation as variables: a runbook only those it declares, so it can
take `resource`, `name`, `namespace`, `kind`, `binding` or `policy` by declaring them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reconciler.errors import UsageError
from reconciler.policy.decisions import Decision
from reconciler.specs import models, runs

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


def workflow(
    decision: Decision, how: models.Remediation, *, runbook: Callable[[str], runs.Runbook | None]
) -> runs.Workflow:
    """The remediation run's spec; `UsageError` when the binding names nothing runnable."""
    given = {k: v for k, v in variables(decision).items() if isinstance(v, str)}
    if how.runbook:
        book = runbook(how.runbook)
        if book is None:
            raise UsageError(f'binding {decision.binding}: no runbook "{how.runbook}"')
        declared = {v.name for v in book.spec.variables}
        call: dict[str, Any] = {
            "kind": "runbook",
            "runbook": {
                "name": how.runbook,
                "variables": {k: _literal(v) for k, v in given.items() if k in declared},
            },
        }
        target = f"runbook {how.runbook}"
    elif how.workflow:
        call = {
            "kind": "subflow",
            "subflow": {
                "workflow": how.workflow,
                "inputs": {k: _literal(v) for k, v in given.items()},
            },
        }
        target = f"workflow {how.workflow}"
    else:
        raise UsageError(f"binding {decision.binding}: remediation names no runbook or workflow")
    steps: list[dict[str, Any]] = []
    if how.approval != "auto":
        message = (
            f"{decision.resource.key} violates {decision.binding}: "
            f"{'; '.join(decision.messages) or decision.outcome.value}. Run {target}?"
        )
        steps.append({"name": APPROVE, "kind": "approval", "approval": {"message": message}})
    steps.append({"name": REMEDIATE, **call, "dependsOn": [APPROVE] if steps else []})
    return runs.Workflow.model_validate(
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
