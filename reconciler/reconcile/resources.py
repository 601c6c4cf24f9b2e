"""The reconcile of one managed object: an ordered chain of sub-steps over its planned change.

no-op -> drift check -> dependency -> backoff -> policy gate -> apply (or delete). Each step
marks conditions and may stop the chain; the caller persists the result once. `check` runs
the chain up to the gate and `apply` the rest, so the controller makes the decisions that
allowed a wave's changes durable, in one transaction, between the two; `run` is both for
one object. Strict denials
block only this object; provider errors and timeouts become `ApplyFailed`, a spec the
provider cannot handle becomes `SpecInvalid`, never exceptions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from reconciler.conditions import Condition, ConditionStatus, Reason, Type
from reconciler.plan.planner import Action, Change
from reconciler.policy.decisions import Action as GateAction
from reconciler.policy.decisions import Decision
from reconciler.policy.evaluate import Evaluator
from reconciler.providers import base
from reconciler.specs.snapshot import Document

_FAILURES = (Type.DRIFTED, Type.POLICY_DENIED, Type.APPLY_FAILED, Type.SPEC_INVALID)


class Result(StrEnum):
    """How one object's reconcile ended."""

    UNCHANGED = "unchanged"
    APPLIED = "applied"
    DELETED = "deleted"
    BLOCKED = "blocked"
    FAILED = "failed"
    DRIFT_REPORTED = "drift-reported"
    BACKING_OFF = "backing-off"
    WAITING = "waiting"  # a dependency is not ready
    ORPHANED = "orphaned"  # removed from Git and left in place (pruning is off)


@dataclass(frozen=True, kw_only=True)
class Outcome:
    key: str
    result: Result
    set_conditions: tuple[Condition, ...] = ()  # conditions that now hold
    cleared: tuple[str, ...] = ()  # condition types that no longer hold
    decisions: tuple[Decision, ...] = ()
    drifted: bool = False
    drift: str = ""  # what had changed outside Git, when `drifted`
    message: str = ""
    provider: str | None = None


@dataclass(frozen=True, kw_only=True)
class ObjectWork:
    """What the chain needs for one object."""

    doc: Document
    change: Change
    provider: base.Provider
    drifted: bool  # the object was applied at this revision and has changed since
    self_heal: bool
    backing_off: bool
    blocked_dependency: str | None
    revision: str
    now: datetime
    evaluator: Evaluator


@dataclass(frozen=True, kw_only=True)
class Allowed:
    """The gate let the change through with these decisions: the provider may be called."""

    decisions: tuple[Decision, ...]


def condition(step: ObjectWork, type_: Type, reason: Reason, message: str) -> Condition:
    return Condition(
        type=type_,
        status=ConditionStatus.TRUE,
        reason=reason,
        message=message,
        observed_revision=step.revision,
        last_transition_time=step.now,
    )


def in_sync(key: str, *, provider: str | None) -> Outcome:
    """The outcome of an object found as Git wants it: no failure holds any more."""
    return Outcome(key=key, result=Result.UNCHANGED, provider=provider, cleared=_FAILURES)


def run(step: ObjectWork) -> Outcome:
    """The chain for one planned change (never raises for provider or policy failures)."""
    found = check(step)
    return found if isinstance(found, Outcome) else apply(step, found)


def check(step: ObjectWork) -> Outcome | Allowed:
    """The chain up to and including the gate: the outcome when it stops there, else what
    allowed the change. Never calls the provider."""
    key = step.change.key
    if step.change.action is Action.NOOP:
        return in_sync(key, provider=step.provider.name)
    drift = (
        (condition(step, Type.DRIFTED, Reason.DRIFT_DETECTED, _drift_message(step.change)),)
        if step.drifted
        else ()
    )
    if step.drifted and not step.self_heal:
        return Outcome(
            key=key,
            result=Result.DRIFT_REPORTED,
            set_conditions=drift,
            drifted=True,
            drift=_drift_message(step.change),
            message=_drift_message(step.change),
            provider=step.provider.name,
        )
    if step.blocked_dependency:
        return Outcome(
            key=key,
            result=Result.WAITING,
            set_conditions=drift,
            drifted=step.drifted,
            drift=_drift_message(step.change) if step.drifted else "",
            provider=step.provider.name,
            message=f"waiting for {step.blocked_dependency}, which is not ready",
        )
    if step.backing_off:
        return Outcome(
            key=key,
            result=Result.BACKING_OFF,
            set_conditions=drift,
            provider=step.provider.name,
            drifted=step.drifted,
            drift=_drift_message(step.change) if step.drifted else "",
            message="backing off after failures",
        )
    decisions = tuple(
        step.evaluator.evaluate(
            step.doc, observed=step.change.observed, change=step.change.as_json()
        )
    )
    blocked = [d for d in decisions if d.action_taken is GateAction.BLOCKED]
    if blocked:
        message = "; ".join(
            f"{d.policy}: {'; '.join(d.messages) or d.explanation}" for d in blocked
        )
        return Outcome(
            key=key,
            result=Result.BLOCKED,
            decisions=decisions,
            drifted=step.drifted,
            drift=_drift_message(step.change) if step.drifted else "",
            set_conditions=(
                condition(step, Type.POLICY_DENIED, Reason.DENIED_BY_POLICY, message),
                *drift,
            ),
            cleared=(Type.APPLY_FAILED, Type.SPEC_INVALID),
            message=message,
            provider=step.provider.name,
        )
    return Allowed(decisions=decisions)


def apply(step: ObjectWork, allowed: Allowed) -> Outcome:
    """The rest of the chain once `check` allowed the change: the provider call."""
    key, decisions = step.change.key, allowed.decisions
    try:
        if step.change.action is Action.DELETE:
            step.provider.delete(step.doc)
        else:
            step.provider.apply(step.doc)
    except base.ProviderTimeout as exc:
        return _failed(step, decisions, Reason.PROVIDER_TIMEOUT, str(exc))
    except base.ProviderError as exc:
        return _failed(step, decisions, Reason.PROVIDER_ERROR, str(exc))
    except base.ProviderSpecError as exc:
        return _failed(step, decisions, Reason.VALIDATION_FAILED, str(exc))
    result = Result.DELETED if step.change.action is Action.DELETE else Result.APPLIED
    return Outcome(
        key=key,
        result=result,
        decisions=decisions,
        drifted=step.drifted,
        drift=_drift_message(step.change) if step.drifted else "",
        cleared=_FAILURES,
        message=f"{step.change.action.value}d" if result is Result.APPLIED else "deleted",
        provider=step.provider.name,
    )


def _failed(
    step: ObjectWork, decisions: tuple[Decision, ...], reason: Reason, message: str
) -> Outcome:
    type_ = Type.SPEC_INVALID if reason is Reason.VALIDATION_FAILED else Type.APPLY_FAILED
    drift = (
        (condition(step, Type.DRIFTED, Reason.DRIFT_DETECTED, _drift_message(step.change)),)
        if step.drifted
        else ()
    )
    return Outcome(
        key=step.change.key,
        result=Result.FAILED,
        decisions=decisions,
        set_conditions=(condition(step, type_, reason, message), *drift),
        cleared=(Type.POLICY_DENIED, Type.APPLY_FAILED, Type.SPEC_INVALID),
        drifted=step.drifted,
        drift=_drift_message(step.change) if step.drifted else "",
        message=message,
        provider=step.provider.name,
    )


def _drift_message(change: Change) -> str:
    if change.action is Action.CREATE:
        return "object is missing"
    paths = [item.dotted for item in change.diff[:5]]
    more = f" (+{len(change.diff) - 5} more)" if len(change.diff) > 5 else ""
    return "changed outside Git: " + ", ".join(str(p) for p in paths) + more
