"""Records as JSON for the API: one function per record, the shapes documented in docs/api.md."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from reconciler.conditions import Condition
from reconciler.reconcile.effective import Effective, Setting
from reconciler.reconcile.runner import SourceState
from reconciler.runstate import RunRecord
from reconciler.store.interfaces import Drift, EventRecord, ObjectStatus


def when(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def condition(c: Condition) -> dict[str, Any]:
    return {
        "type": str(c.type),
        "status": str(c.status),
        "reason": str(c.reason),
        "message": c.message,
        "observedRevision": c.observed_revision,
        "lastTransitionTime": when(c.last_transition_time),
    }


def conditions(items: Sequence[Condition]) -> list[dict[str, Any]]:
    return [condition(c) for c in items]


def source(state: SourceState) -> dict[str, Any]:
    return {
        "name": state.name,
        "location": state.location,
        "ref": state.ref,
        "suspended": state.suspended,
        "reconciling": state.reconciling,
        "revision": state.revision,
        "rejectedRevision": state.rejected_revision,
        "lastSyncAt": when(state.last_sync_at),
        "lastAuditAt": when(state.last_audit_at),
        "lastTrigger": state.last_trigger,
        "conditions": conditions(state.conditions),
        "lastResult": state.last_result,
        "orphans": list(state.orphans),
        "settings": settings(state.effective),
    }


def settings(effective: Effective) -> dict[str, Any]:
    """The settings a source runs with, each with where it came from."""
    chosen: dict[str, Setting[str] | Setting[bool]] = {
        "interval": effective.interval,
        "auditInterval": effective.audit_interval,
        "selfHeal": effective.self_heal,
    }
    return {k: {"value": v.value, "origin": v.origin.value} for k, v in chosen.items()}


def resource(status: ObjectStatus) -> dict[str, Any]:
    return {
        "key": status.key,
        "kind": status.kind,
        "namespace": status.namespace,
        "name": status.name,
        "source": status.source,
        "observedGeneration": status.observed_generation,
        "conditions": conditions(status.conditions),
        "lastAttemptedRevision": status.last_attempted_revision,
        "lastAppliedRevision": status.last_applied_revision,
        "appliedChanges": status.applied_changes,
        "drift": drift(status.drift),
        "history": [
            {"at": when(h.at), "revision": h.revision, "outcome": h.outcome, "message": h.message}
            for h in status.history
        ],
        "updatedAt": when(status.updated_at),
    }


def drift(record: Drift | None) -> dict[str, Any] | None:
    if record is None:
        return None
    return {
        "fields": list(record.fields),
        "revision": record.revision,
        "detectedAt": when(record.detected_at),
        "correctedAt": when(record.corrected_at),
    }


def event(record: EventRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "at": when(record.at),
        "type": record.type,
        "objectKey": record.object_key,
        "message": record.message,
        "data": record.data,
    }


def run(record: RunRecord) -> dict[str, Any]:
    body = asdict(record)
    body["kind"], body["status"] = str(record.kind), str(record.status)
    body["started_at"], body["finished_at"] = when(record.started_at), when(record.finished_at)
    body["steps"] = [
        {
            **asdict(s),
            "status": str(s.status),
            "started_at": when(s.started_at),
            "finished_at": when(s.finished_at),
        }
        for s in record.steps
    ]
    return body
