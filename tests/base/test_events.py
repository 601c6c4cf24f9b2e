from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from reconciler import events


def make(kind: events.EventType) -> events.Event:
    return events.Event(type=kind, at=datetime(2026, 1, 1, tzinfo=UTC), source="s")


def test_subscribers_get_events_in_order_and_a_failing_one_does_not_stop_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = events.Bus()
    seen: list[events.EventType] = []

    def broken(event: events.Event) -> None:
        raise RuntimeError("boom")

    bus.subscribe(broken)
    bus.subscribe(lambda e: seen.append(e.type))
    with caplog.at_level(logging.ERROR):
        bus.publish(make(events.EventType.REVISION_FETCHED))
        bus.publish(make(events.EventType.RECONCILE_FINISHED))
    assert seen == [events.EventType.REVISION_FETCHED, events.EventType.RECONCILE_FINISHED]
    assert "boom" in caplog.text


def test_unsubscribe_stops_delivery() -> None:
    bus = events.Bus()
    seen: list[events.Event] = []
    unsubscribe = bus.subscribe(seen.append)
    bus.publish(make(events.EventType.REVISION_FETCHED))
    unsubscribe()
    bus.publish(make(events.EventType.REVISION_FETCHED))
    assert len(seen) == 1
