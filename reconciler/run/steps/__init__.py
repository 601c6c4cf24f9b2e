"""Step kinds, one module each, all behind `steps.base.Kind`."""

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
        StepKind.COMMAND: command.Command(),
        StepKind.HTTP: http.Http(),
        StepKind.WAIT: wait.Wait(),
        StepKind.DECISION: decision.Decision(),
        StepKind.APPROVAL: approval.Approval(),
        StepKind.SUBFLOW: children.Subflow(),
        StepKind.RUNBOOK: children.Runbook(),
        StepKind.RECONCILE: external.Reconcile(),
        StepKind.POLICY: external.Policy(),
    }
