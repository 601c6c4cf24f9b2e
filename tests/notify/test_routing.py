"""Which events make notices, and which channels a notice is routed to."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from reconciler.events import Event, EventType
from reconciler.notify import notices, routing
from reconciler.notify.notices import Notice, Severity
from reconciler.notify.settings import NotificationSettings, Route
from reconciler.store.interfaces import EventRecord

AT = datetime(2026, 1, 1, tzinfo=UTC)


def event(type_: EventType, source: str = "prod", **data: Any) -> Event:
    return Event(type=type_, at=AT, source=source, object_key="File//a", message="m", data=data)


@pytest.mark.parametrize(
    ("made", "severity"),
    [
        (event(EventType.RESOURCE_BLOCKED), Severity.WARNING),
        (event(EventType.DRIFT_DETECTED), Severity.WARNING),
        (event(EventType.RUN_UPDATED, status="failed"), Severity.CRITICAL),
        (event(EventType.RUN_UPDATED, status="succeeded"), None),
        (event(EventType.DECISION_TAKEN, level="notify"), Severity.INFO),
        (event(EventType.DECISION_TAKEN, level="autonomous"), Severity.INFO),
        (event(EventType.DECISION_TAKEN, level="operator"), None),
        (event(EventType.RESOURCE_APPLIED), None),
        (event(EventType.RECONCILE_FINISHED), None),
    ],
)
def test_only_events_that_need_a_human_make_notices(made: Event, severity: Severity | None) -> None:
    notice = notices.from_event(made)
    assert (notice.severity if notice else None) == severity


def test_the_engines_approval_events_make_notices() -> None:
    asked = EventRecord(at=AT, type="ApprovalRequested", object_key="run/r1", data={"step": "s"})
    escalated = EventRecord(at=AT, type="ApprovalEscalated", object_key="run/r1")
    answered = EventRecord(at=AT, type="ApprovalAnswered", object_key="run/r1")
    assert [n.severity if (n := notices.from_record(r)) else None for r in (asked, escalated)] == [
        Severity.WARNING,
        Severity.CRITICAL,
    ]
    assert notices.from_record(answered) is None


def notice(type_: str, *, source: str = "prod", severity: Severity = Severity.WARNING) -> Notice:
    return Notice(type=type_, at=AT, source=source, object_key="k", message="m", severity=severity)


ROUTES = [
    Route(events=["ResourceBlocked"], channels=["blocked"]),
    Route(sources=["prod"], severity=Severity.CRITICAL, channels=["pager", "blocked"]),
    Route(channels=["everything"]),
    Route(events=["DriftDetected"], sources=["staging"], channels=["staging-drift"]),
]


@pytest.mark.parametrize(
    ("made", "expected"),
    [
        (notice("ResourceBlocked"), ["blocked", "everything"]),
        (notice("RunUpdated", severity=Severity.CRITICAL), ["pager", "blocked", "everything"]),
        (notice("RunUpdated", source="dev", severity=Severity.CRITICAL), ["everything"]),
        (notice("DriftDetected", source="staging"), ["everything", "staging-drift"]),
        (notice("DriftDetected", source="prod"), ["everything"]),
    ],
)
def test_routes_match_by_type_source_and_least_severity(made: Notice, expected: list[str]) -> None:
    assert routing.channels(made, ROUTES) == expected


def test_a_route_naming_an_unknown_channel_or_event_type_is_refused() -> None:
    channel = {"name": "ops", "type": "slack", "url": "http://127.0.0.1:1/hook"}
    with pytest.raises(ValueError, match=r"routes\[0\]\.channels: no channel named pager"):
        NotificationSettings.model_validate(
            {"channels": [channel], "routes": [{"channels": ["pager"]}]}
        )
    route = {"events": ["ResourceApplied"], "channels": ["ops"]}
    with pytest.raises(ValueError, match=r"routes\[0\]\.events: ResourceApplied is not one of"):
        NotificationSettings.model_validate({"channels": [channel], "routes": [route]})


def test_the_regression_rollback_type_is_reserved_for_routes() -> None:
    channel = {"name": "ops", "type": "slack", "url": "http://127.0.0.1:1/hook"}
    route = {"events": ["RegressionRolledBack"], "channels": ["ops"]}
    settings = NotificationSettings.model_validate({"channels": [channel], "routes": [route]})
    made = notice("RegressionRolledBack", severity=Severity.CRITICAL)
    assert routing.channels(made, settings.routes) == ["ops"]
