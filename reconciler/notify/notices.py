"""Which events are worth a notification, and how severe each one is.

Most events are bookkeeping; a notice is an event that asks for a human's attention: a change
a policy blocked, drift, a failed run, an approval waiting or escalated, a decision the
daemon took on its own, a regression rolled back. Events of the bus and the events the run
engine records (approvals) become the same `Notice`, so routing and rendering see one shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from reconciler.events import Event, EventType
from reconciler.store.interfaces import EventRecord


class Severity(StrEnum):
    """How urgent a notice is, from the least to the most."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)


APPROVAL_REQUESTED = EventType.APPROVAL_REQUESTED.value
REGRESSION_ROLLED_BACK = "RegressionRolledBack"
"""Reserved: published once optimization runs roll back a change that regressed."""

SEVERITY: dict[str, Severity] = {
    "ResourceBlocked": Severity.WARNING,
    "DriftDetected": Severity.WARNING,
    "RunUpdated": Severity.CRITICAL,  # only a failed run is a notice
    APPROVAL_REQUESTED: Severity.WARNING,
    "ApprovalEscalated": Severity.CRITICAL,
    "DecisionTaken": Severity.INFO,  # only one taken without asking a human
    REGRESSION_ROLLED_BACK: Severity.CRITICAL,
}
"""The event types that make notices, and their severity."""

AUTOMATIC_LEVELS = ("notify", "autonomous")
"""Decision levels that act without a human: the notice is how people hear of them."""


@dataclass(frozen=True, kw_only=True)
class Notice:
    type: str
    at: datetime
    source: str
    object_key: str | None
    message: str
    severity: Severity
    data: dict[str, Any] = field(default_factory=dict)


def from_event(event: Event) -> Notice | None:
    """The notice an event of the bus makes, or None when it makes none."""
    return _notice(
        type=event.type.value,
        at=event.at,
        source=event.source,
        object_key=event.object_key,
        message=event.message,
        data=event.data,
    )


def from_record(record: EventRecord) -> Notice | None:
    """The notice an event the run engine recorded makes, or None."""
    return _notice(
        type=record.type,
        at=record.at,
        source=str(record.data.get("source", "")),
        object_key=record.object_key,
        message=record.message,
        data=record.data,
    )


def _notice(
    *,
    type: str,
    at: datetime,
    source: str,
    object_key: str | None,
    message: str,
    data: dict[str, Any],
) -> Notice | None:
    severity = SEVERITY.get(type)
    if severity is None or not _notable(type, data):
        return None
    return Notice(
        type=type,
        at=at,
        source=source,
        object_key=object_key,
        message=message,
        severity=severity,
        data=dict(data),
    )


def _notable(type: str, data: dict[str, Any]) -> bool:
    if type == "RunUpdated":
        return data.get("status") == "failed"
    if type == "DecisionTaken":
        return data.get("level") in AUTOMATIC_LEVELS
    return True
