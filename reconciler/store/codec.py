"""Store records to JSON-able values and back, shared by every backend.

Nested parts of a record (conditions, history, diffs, step outputs, decision messages) are
kept as JSON documents; their shape is defined here once so that rows written by one
backend read back identically in another. Timestamps are ISO 8601 in UTC; a naive one is
refused, since guessing its zone would silently shift it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from reconciler.conditions import Condition, ConditionStatus
from reconciler.policy.decisions import ResourceRef
from reconciler.store import interfaces


def utc(value: datetime) -> datetime:
    """`value` in UTC; `ValueError` when it carries no zone."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"timestamp {value.isoformat()} has no timezone; the store keeps UTC")
    return value.astimezone(UTC)


def utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)


def iso(value: datetime) -> str:
    return utc(value).isoformat()


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def conditions_to_json(conditions: tuple[Condition, ...]) -> list[dict[str, Any]]:
    return [
        {
            "type": c.type,
            "status": c.status.value,
            "reason": c.reason,
            "message": c.message,
            "observedRevision": c.observed_revision,
            "lastTransitionTime": iso(c.last_transition_time),
        }
        for c in conditions
    ]


def conditions_from_json(items: list[dict[str, Any]]) -> tuple[Condition, ...]:
    return tuple(
        Condition(
            type=item["type"],
            status=ConditionStatus(item["status"]),
            reason=item["reason"],
            message=item["message"],
            observed_revision=item["observedRevision"],
            last_transition_time=from_iso(item["lastTransitionTime"]),
        )
        for item in items
    )


def history_to_json(history: tuple[interfaces.HistoryEntry, ...]) -> list[dict[str, Any]]:
    return [
        {"at": iso(h.at), "revision": h.revision, "outcome": h.outcome, "message": h.message}
        for h in history
    ]


def history_from_json(items: list[dict[str, Any]]) -> tuple[interfaces.HistoryEntry, ...]:
    return tuple(
        interfaces.HistoryEntry(
            at=from_iso(item["at"]),
            revision=item["revision"],
            outcome=item["outcome"],
            message=item["message"],
        )
        for item in items
    )


def drift_to_json(drift: interfaces.Drift | None) -> dict[str, Any] | None:
    if drift is None:
        return None
    return {
        "fields": list(drift.fields),
        "revision": drift.revision,
        "detectedAt": iso(drift.detected_at),
        "correctedAt": iso(drift.corrected_at) if drift.corrected_at else None,
    }


def drift_from_json(item: dict[str, Any] | None) -> interfaces.Drift | None:
    if item is None:
        return None
    corrected = item["correctedAt"]
    return interfaces.Drift(
        fields=tuple(item["fields"]),
        revision=item["revision"],
        detected_at=from_iso(item["detectedAt"]),
        corrected_at=from_iso(corrected) if corrected else None,
    )


def resource_from_row(
    *, api_version: str, kind: str, namespace: str | None, name: str, path: str
) -> ResourceRef:
    return ResourceRef(
        api_version=api_version, kind=kind, namespace=namespace, name=name, path=path
    )
