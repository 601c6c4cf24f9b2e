"""The rendered-response cache: served until the next event, never across one."""

from __future__ import annotations

from datetime import UTC, datetime

from reconciler.api.cache import RenderCache
from reconciler.events import Event, EventType

EVENT = Event(type=EventType.RECONCILE_FINISHED, at=datetime(2026, 1, 1, tzinfo=UTC), source="s")


def test_a_body_is_reused_until_an_event_arrives() -> None:
    cache, calls = RenderCache(), []

    def render() -> bytes:
        calls.append(1)
        return f"v{len(calls)}".encode()

    assert [cache.get("k", render), cache.get("k", render)] == [b"v1", b"v1"]
    cache.observe(EVENT)
    assert cache.get("k", render) == b"v2"
    assert len(calls) == 2


def test_a_body_rendered_while_an_event_arrived_is_not_kept() -> None:
    cache = RenderCache()

    def racing() -> bytes:
        cache.observe(EVENT)  # the state changed while this body was being rendered
        return b"stale"

    assert cache.get("k", racing) == b"stale"
    assert cache.get("k", lambda: b"fresh") == b"fresh"


def test_entries_are_bounded() -> None:
    cache = RenderCache(max_entries=2)
    for key in ("a", "b", "c"):
        cache.get(key, key.encode)
    assert cache.get("a", lambda: b"again") == b"again"
    assert cache.get("c", lambda: b"not rendered") == b"c"
