"""The in-process event bus: every state change is published once as a frozen event.

The core publishes; metrics, the store writer and the dashboard's live feed subscribe.
The core never imports the web or metrics libraries: they hang off this bus. Delivery is
synchronous and in order; a subscriber that raises is logged and does not stop the others.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

log = logging.getLogger(__name__)


class EventType(StrEnum):
    REVISION_FETCHED = "RevisionFetched"
    REVISION_REJECTED = "RevisionRejected"  # failed to load, compile or verify
    RECONCILE_FINISHED = "ReconcileFinished"
    RESOURCE_APPLIED = "ResourceApplied"
    RESOURCE_DELETED = "ResourceDeleted"
    RESOURCE_BLOCKED = "ResourceBlocked"
    RESOURCE_FAILED = "ResourceFailed"
    DRIFT_DETECTED = "DriftDetected"
    DRIFT_CORRECTED = "DriftCorrected"  # self-heal applied Git's document over a drift
    POLICY_VIOLATION = "PolicyViolation"  # a denial where no change was gated (not blocked)
    DECISION_TAKEN = "DecisionTaken"  # the daemon chose an option (remediation, ...)
    DECISION_SETTLED = "DecisionSettled"  # what became of it (succeeded, failed, rejected...)
    APPROVAL_REQUESTED = "ApprovalRequested"  # a run's step waits for a human's answer
    APPROVAL_ANSWERED = "ApprovalAnswered"  # someone approved or rejected a waiting step
    SETTINGS_CHANGED = "SettingsChanged"  # a served revision changed the repository's settings
    WEBHOOK_RECEIVED = "WebhookReceived"
    INCIDENT_TRIGGERED = "IncidentTriggered"  # PagerDuty / Opsgenie reported a new incident
    INCIDENT_ACKNOWLEDGED = "IncidentAcknowledged"
    INCIDENT_RESOLVED = "IncidentResolved"
    RUN_UPDATED = "RunUpdated"
    ORPHAN_REAPED = "OrphanReaped"  # a dead daemon's child process group finished or was killed
    SIMULATION_FINISHED = "SimulationFinished"  # a pull-request simulation ended (any way)


@dataclass(frozen=True, kw_only=True)
class Event:
    type: EventType
    at: datetime
    source: str
    object_key: str | None = None
    message: str = ""
    data: dict[str, Any] = field(default_factory=dict)


Subscriber = Callable[[Event], None]


class Bus:
    """Fan-out of events to subscribers, in publish order."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Add a subscriber; returns a function that removes it."""
        with self._lock:
            self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            with self._lock:
                if subscriber in self._subscribers:
                    self._subscribers.remove(subscriber)

        return unsubscribe

    def publish(self, event: Event) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            try:
                subscriber(event)
            except Exception:
                log.exception("event subscriber %r failed on %s", subscriber, event.type)
