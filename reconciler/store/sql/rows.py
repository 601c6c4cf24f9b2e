"""Store records to table rows (plain mappings keyed by column name) and back.

Column names are the same in every SQL backend, so this mapping is written once; a backend
only builds statements. Timestamps go out as aware datetimes (the column type stores them)
and JSON parts through `codec`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler import runstate
from reconciler.policy.decisions import Action, Decision, Outcome
from reconciler.source.revision import Revision
from reconciler.specs.models import Enforcement
from reconciler.store import codec, interfaces

Row = Mapping[Any, Any]


def revision_row(source: str, revision: Revision) -> dict[str, Any]:
    return {
        "source": source,
        "sha": revision.sha,
        "ref": revision.ref,
        "committed_at": codec.utc(revision.committed_at),
        "author": revision.author,
        "message": revision.message,
        "signature_verified": revision.signature_verified,
        "signer": revision.signer,
    }


def revision_from_row(row: Row) -> Revision:
    return Revision(
        sha=row["sha"],
        ref=row["ref"],
        committed_at=row["committed_at"],
        author=row["author"],
        message=row["message"],
        signature_verified=row["signature_verified"],
        signer=row["signer"],
    )


def status_row(status: interfaces.ObjectStatus, *, history_limit: int) -> dict[str, Any]:
    history = status.history[-history_limit:] if history_limit else ()
    return {
        "key": status.key,
        "kind": status.kind,
        "namespace": status.namespace,
        "name": status.name,
        "source": status.source,
        "observed_generation": status.observed_generation,
        "conditions": codec.conditions_to_json(status.conditions),
        "last_attempted_revision": status.last_attempted_revision,
        "last_applied_revision": status.last_applied_revision,
        "inventory": status.inventory,
        "applied_changes": list(status.applied_changes),
        "drift": codec.drift_to_json(status.drift),
        "history": codec.history_to_json(history),
        "updated_at": codec.utc(status.updated_at),
    }


def status_from_row(row: Row) -> interfaces.ObjectStatus:
    return interfaces.ObjectStatus(
        key=row["key"],
        kind=row["kind"],
        namespace=row["namespace"],
        name=row["name"],
        source=row["source"],
        observed_generation=row["observed_generation"],
        conditions=codec.conditions_from_json(row["conditions"]),
        last_attempted_revision=row["last_attempted_revision"],
        last_applied_revision=row["last_applied_revision"],
        inventory=row["inventory"],
        applied_changes=row["applied_changes"],
        drift=codec.drift_from_json(row["drift"]),
        history=codec.history_from_json(row["history"]),
        updated_at=row["updated_at"],
    )


def condition_rows(status: interfaces.ObjectStatus) -> list[dict[str, Any]]:
    return [
        {"key": status.key, "type": c.type, "status": c.status.value} for c in status.conditions
    ]


def decision_row(decision: Decision) -> dict[str, Any]:
    ref = decision.resource
    return {
        "policy": decision.policy,
        "binding": decision.binding,
        "key": ref.key,
        "api_version": ref.api_version,
        "kind": ref.kind,
        "namespace": ref.namespace,
        "name": ref.name,
        "path": ref.path,
        "outcome": decision.outcome.value,
        "messages": list(decision.messages),
        "enforcement": decision.enforcement.value,
        "action": decision.action_taken.value,
        "revision": decision.revision,
        "input_digest": decision.input_digest,
        "explanation": decision.explanation,
        "at": codec.utc(decision.at),
    }


def decision_from_row(row: Row) -> Decision:
    resource = codec.resource_from_row(
        api_version=row["api_version"],
        kind=row["kind"],
        namespace=row["namespace"],
        name=row["name"],
        path=row["path"],
    )
    return Decision(
        policy=row["policy"],
        binding=row["binding"],
        resource=resource,
        outcome=Outcome(row["outcome"]),
        messages=tuple(row["messages"]),
        enforcement=Enforcement(row["enforcement"]),
        action_taken=Action(row["action"]),
        revision=row["revision"],
        input_digest=row["input_digest"],
        explanation=row["explanation"],
        at=row["at"],
    )


def run_row(run: runstate.RunRecord) -> dict[str, Any]:
    return {
        "id": run.id,
        "kind": run.kind.value,
        "name": run.name,
        "trigger": run.trigger,
        "revision": run.revision,
        "status": run.status.value,
        "started_at": codec.utc_or_none(run.started_at),
        "finished_at": codec.utc_or_none(run.finished_at),
        "error": run.error,
    }


def run_from_row(row: Row, steps: Sequence[runstate.StepRecord]) -> runstate.RunRecord:
    return runstate.RunRecord(
        id=row["id"],
        kind=runstate.RunKind(row["kind"]),
        name=row["name"],
        trigger=row["trigger"],
        revision=row["revision"],
        status=runstate.RunStatus(row["status"]),
        steps=tuple(steps),
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        error=row["error"],
    )


def step_row(run_id: str, step: runstate.StepRecord) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "name": step.name,
        "attempt": step.attempt,
        "status": step.status.value,
        "started_at": codec.utc_or_none(step.started_at),
        "finished_at": codec.utc_or_none(step.finished_at),
        "output": dict(step.output),
        "error": step.error,
    }


def step_from_row(row: Row) -> runstate.StepRecord:
    return runstate.StepRecord(
        name=row["name"],
        status=runstate.StepStatus(row["status"]),
        attempt=row["attempt"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        output=row["output"],
        error=row["error"],
    )


def event_row(event: interfaces.EventRecord) -> dict[str, Any]:
    return {
        "at": codec.utc(event.at),
        "type": event.type,
        "object_key": event.object_key,
        "message": event.message,
        "data": dict(event.data),
    }


def event_from_row(row: Row) -> interfaces.EventRecord:
    return interfaces.EventRecord(
        id=row["id"],
        at=row["at"],
        type=row["type"],
        object_key=row["object_key"],
        message=row["message"],
        data=row["data"],
    )


def simulation_row(simulation: interfaces.SimulationRecord) -> dict[str, Any]:
    return {
        "id": simulation.id,
        "source": simulation.source,
        "forge": simulation.forge,
        "number": simulation.number,
        "base": simulation.base,
        "head": simulation.head,
        "status": simulation.status.value,
        "blocked": simulation.blocked,
        "conclusion": simulation.conclusion,
        "summary": simulation.summary,
        "report": simulation.report,
        "markdown": list(simulation.markdown),
        "forge_error": simulation.forge_error,
        "created_at": codec.utc(simulation.created_at),
        "finished_at": codec.utc_or_none(simulation.finished_at),
    }


def simulation_from_row(row: Row) -> interfaces.SimulationRecord:
    return interfaces.SimulationRecord(
        id=row["id"],
        source=row["source"],
        forge=row["forge"],
        number=row["number"],
        base=row["base"],
        head=row["head"],
        status=interfaces.SimulationStatus(row["status"]),
        blocked=row["blocked"],
        conclusion=row["conclusion"],
        summary=row["summary"],
        report=row["report"],
        markdown=tuple(row["markdown"]),
        forge_error=row["forge_error"],
        created_at=row["created_at"],
        finished_at=row["finished_at"],
    )
