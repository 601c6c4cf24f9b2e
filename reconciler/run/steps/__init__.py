"""Step kinds, one module each, all behind `steps.base.Kind`; each class is named `<Kind>Kind`."""

from __future__ import annotations

from reconciler.run.steps import (
    approval,
    base,
    children,
    command,
    decision,
    external,
    http,
    wait,
)
from reconciler.specs.flows import StepKind


def kinds() -> dict[StepKind, base.Kind]:
    """A fresh implementation for every step kind."""
    return {
        StepKind.COMMAND: command.CommandKind(),
        StepKind.HTTP: http.HttpKind(),
        StepKind.WAIT: wait.WaitKind(),
        StepKind.DECISION: decision.DecisionKind(),
        StepKind.APPROVAL: approval.ApprovalKind(),
        StepKind.SUBFLOW: children.SubflowKind(),
        StepKind.RUNBOOK: children.RunbookKind(),
        StepKind.RECONCILE: external.ReconcileKind(),
        StepKind.POLICY: external.PolicyKind(),
    }
