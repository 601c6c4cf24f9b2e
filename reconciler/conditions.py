"""Flux-style status conditions: the one vocabulary every sub-reconciler reports in.

A condition says one thing about an object (`type`), whether it holds (`status`), why
(`reason`, CamelCase, one of the constants below) and details for people (`message`).
`Ready` is summarised from the others; failure conditions exist only while they are true.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Type(StrEnum):
    """Condition types."""

    READY = "Ready"  # summary: the object is in its desired state at the current revision
    RECONCILING = "Reconciling"  # work is in progress
    SOURCE_FETCH_FAILED = "SourceFetchFailed"  # the revision could not be fetched or verified
    SPEC_INVALID = "SpecInvalid"  # the revision's specs or policies did not load
    POLICY_DENIED = "PolicyDenied"  # a strict policy blocked the change
    DRIFTED = "Drifted"  # observed state differs from desired state
    APPLY_FAILED = "ApplyFailed"  # the provider failed or timed out applying the change
    RUN_FAILED = "RunFailed"  # a workflow or runbook run failed
    STORE_FAILED = "StoreFailed"  # the daemon could not write its store (disk full, read-only)


FAILURE_TYPES = frozenset(
    {
        Type.SOURCE_FETCH_FAILED,
        Type.SPEC_INVALID,
        Type.POLICY_DENIED,
        Type.DRIFTED,
        Type.APPLY_FAILED,
        Type.RUN_FAILED,
        Type.STORE_FAILED,
    }
)


class Reason(StrEnum):
    """Reasons, CamelCase; each says why a condition has its status."""

    SUCCEEDED = "Succeeded"  # the last reconcile applied everything
    PROGRESSING = "Progressing"  # a reconcile is running
    FETCH_FAILED = "FetchFailed"  # git fetch or clone failed
    STORE_WRITE_FAILED = "StoreWriteFailed"  # a write to the store failed
    SIGNATURE_INVALID = "SignatureInvalid"  # the revision is unsigned or untrusted
    VALIDATION_FAILED = "ValidationFailed"  # specs had problems
    COMPILE_FAILED = "CompileFailed"  # Rego did not compile
    DENIED_BY_POLICY = "DeniedByPolicy"  # a strict policy denied the change
    DRIFT_DETECTED = "DriftDetected"  # observed differs from desired
    PROVIDER_ERROR = "ProviderError"  # a provider returned an error
    PROVIDER_TIMEOUT = "ProviderTimeout"  # a provider did not answer in time
    DEPENDENCY_NOT_READY = "DependencyNotReady"  # waiting for a dependsOn object
    SUSPENDED = "Suspended"  # reconciliation is suspended by the user


@dataclass(frozen=True, kw_only=True)
class Condition:
    type: str
    status: ConditionStatus
    reason: str
    message: str
    observed_revision: str | None
    last_transition_time: datetime


def set_condition(conditions: Sequence[Condition], new: Condition) -> tuple[Condition, ...]:
    """Replace the condition of the same type; keep its transition time if status is unchanged."""
    out: list[Condition] = []
    for old in conditions:
        if old.type == new.type:
            if old.status == new.status:
                new = replace(new, last_transition_time=old.last_transition_time)
            continue
        out.append(old)
    out.append(new)
    return tuple(sorted(out, key=lambda c: c.type))


def remove_condition(conditions: Sequence[Condition], type_: str) -> tuple[Condition, ...]:
    return tuple(c for c in conditions if c.type != type_)


def summarise_ready(
    conditions: Sequence[Condition], *, revision: str | None, at: datetime
) -> tuple[Condition, ...]:
    """Set `Ready` from the failure conditions: False naming the first failure, else True."""
    failures = [
        c for c in conditions if c.type in FAILURE_TYPES and c.status is ConditionStatus.TRUE
    ]
    if failures:
        first = failures[0]
        ready = Condition(
            type=Type.READY,
            status=ConditionStatus.FALSE,
            reason=first.reason,
            message=first.message,
            observed_revision=revision,
            last_transition_time=at,
        )
    else:
        ready = Condition(
            type=Type.READY,
            status=ConditionStatus.TRUE,
            reason=Reason.SUCCEEDED,
            message=f"applied revision {revision}" if revision else "ready",
            observed_revision=revision,
            last_transition_time=at,
        )
    return set_condition(conditions, ready)
