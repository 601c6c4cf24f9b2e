"""Records for the store tests, with defaults so each test names only what it is about."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from reconciler import runstate
from reconciler.conditions import Condition, ConditionStatus
from reconciler.policy.decisions import Action, Decision, Outcome, ResourceRef
from reconciler.source.revision import Revision
from reconciler.specs.models import Enforcement
from reconciler.store import interfaces

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def revision(sha: str, *, seconds: float = 0) -> Revision:
    return Revision(
        sha=sha * 40 if len(sha) == 1 else sha,
        ref="refs/heads/main",
        committed_at=at(seconds),
        author="Ada <ada@example.org>",
        message=f"commit {sha}",
        signature_verified=True,
        signer="ada",
    )


def resource(name: str, *, kind: str = "Deployment", namespace: str | None = "prod") -> ResourceRef:
    return ResourceRef(
        api_version="apps/v1",
        kind=kind,
        namespace=namespace,
        name=name,
        path=f"resources/{name}.yaml",
    )


def decision(
    *,
    policy: str = "k8s.labels",
    name: str = "web",
    outcome: Outcome = Outcome.DENY,
    seconds: float = 0,
    digest: str = "d0",
) -> Decision:
    return Decision(
        policy=policy,
        binding=f"{policy}-binding",
        resource=resource(name),
        outcome=outcome,
        messages=(f"{name}: missing label owner",),
        enforcement=Enforcement.STRICT,
        action_taken=Action.BLOCKED,
        revision="a" * 40,
        input_digest=digest,
        explanation="rule deny matched",
        at=at(seconds),
    )


def condition(type_: str, status: ConditionStatus, *, seconds: float = 0) -> Condition:
    return Condition(
        type=type_,
        status=status,
        reason="Succeeded",
        message=f"{type_} says so",
        observed_revision="b" * 40,
        last_transition_time=at(seconds),
    )


def status(
    name: str, *, source: str = "main", ready: bool = True, history: int = 0, **changes: Any
) -> interfaces.ObjectStatus:
    ready_status = ConditionStatus.TRUE if ready else ConditionStatus.FALSE
    conditions: tuple[Condition, ...] = (condition("Ready", ready_status),)
    if not ready:
        conditions = (condition("Drifted", ConditionStatus.TRUE), *conditions)
    fields: dict[str, Any] = dict(
        key=f"File//{name}",
        kind="File",
        namespace=None,
        name=name,
        source=source,
        observed_generation=3,
        conditions=conditions,
        last_attempted_revision="b" * 40,
        last_applied_revision="a" * 40,
        inventory=True,
        applied_changes=[{"op": "replace", "path": "/spec/content", "old": "a", "new": "b"}],
        drift=interfaces.Drift(
            fields=({"op": "replace", "path": "/spec/mode", "old": "0600", "new": "0644"},),
            revision="a" * 40,
            detected_at=at(1),
            corrected_at=at(2),
        ),
        history=tuple(
            interfaces.HistoryEntry(
                at=at(i), revision=f"r{i}", outcome="succeeded", message=f"reconcile {i}"
            )
            for i in range(history)
        ),
        updated_at=at(60),
    )
    fields.update(changes)
    return interfaces.ObjectStatus(**fields)


def step(
    name: str,
    *,
    attempt: int = 1,
    status: runstate.StepStatus = runstate.StepStatus.SUCCEEDED,
    **changes: Any,
) -> runstate.StepRecord:
    fields: dict[str, Any] = dict(
        name=name,
        status=status,
        attempt=attempt,
        started_at=at(1),
        finished_at=at(2),
        output={"exitCode": 0, "stdout": f"{name} done"},
        error=None,
    )
    fields.update(changes)
    return runstate.StepRecord(**fields)


def run(
    run_id: str,
    *,
    kind: runstate.RunKind = runstate.RunKind.WORKFLOW,
    status: runstate.RunStatus = runstate.RunStatus.RUNNING,
    **changes: Any,
) -> runstate.RunRecord:
    fields: dict[str, Any] = dict(
        id=run_id,
        kind=kind,
        name="nightly-backup",
        trigger="cron",
        revision="a" * 40,
        status=status,
        steps=(),
        started_at=at(0),
        finished_at=None,
        error=None,
    )
    fields.update(changes)
    return runstate.RunRecord(**fields)


def event(type_: str = "ReconcileSucceeded", *, seconds: float = 0) -> interfaces.EventRecord:
    return interfaces.EventRecord(
        at=at(seconds),
        type=type_,
        object_key="File//motd",
        message="applied",
        data={"revision": "a" * 40, "changes": 1},
    )


def simulation(
    sim_id: str, *, source: str = "main", number: int | None = 7, seconds: float = 0, **changes: Any
) -> interfaces.SimulationRecord:
    fields: dict[str, Any] = dict(
        id=sim_id,
        source=source,
        forge="github",
        number=number,
        base="a" * 40,
        head="b" * 40,
        status=interfaces.SimulationStatus.SUCCEEDED,
        blocked=True,
        conclusion="failure",
        summary="would be blocked: 1 newly denied strict decision(s)",
        report={"base": "a" * 40, "head": "b" * 40, "blocked": True, "errors": []},
        markdown=("### part one\n", "### part two\n"),
        forge_error=None,
        created_at=at(seconds),
        finished_at=at(seconds + 5),
    )
    fields.update(changes)
    return interfaces.SimulationRecord(**fields)
