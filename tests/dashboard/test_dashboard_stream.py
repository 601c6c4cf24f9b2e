"""`GET /api/v1/stream`: the event bus as server-sent events, over a real socket."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx

from reconciler.api.dashboard import stream
from reconciler.events import Bus, Event, EventType
from tests.dashboard.browser import VIEWER, Site


def frames(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    kind = ""
    for line in lines:
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            yield kind, line[6:]


def test_the_stream_carries_the_daemons_events(site: Site) -> None:
    headers = {"Authorization": f"Bearer {VIEWER}"}
    with httpx.stream("GET", f"{site.url}/api/v1/stream", headers=headers, timeout=20) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = r.iter_lines()
        assert next(lines) == "retry: 2000"
        operator = {"Authorization": "Bearer operator-token-0123456789"}
        site.live.post("/api/v1/sources/demo/sync", headers=operator)
        finished = next(
            (kind, json.loads(data))
            for kind, data in frames(lines)
            if json.loads(data).get("type") == "ReconcileFinished"
        )
        assert (finished[0], finished[1]["source"]) == ("message", "demo")


def test_a_stream_ends_when_the_server_stops() -> None:
    bus, stop = Bus(), asyncio.Event()

    async def scenario() -> list[bytes]:
        chunks = stream.events(bus, stop=stop, heartbeat=30)
        got = [await anext(chunks)]
        asyncio.get_running_loop().call_later(0.05, stop.set)
        got += [c async for c in chunks]
        return got

    assert asyncio.run(scenario()) == [b"retry: 2000\n: connected\n\n"]
    assert bus._subscribers == []


def test_the_stream_needs_a_token(site: Site) -> None:
    assert httpx.get(f"{site.url}/api/v1/stream", timeout=5).status_code == 401


def test_a_slow_client_loses_the_oldest_events_and_is_told_to_resync() -> None:
    bus = Bus()

    async def scenario() -> list[bytes]:
        chunks = stream.events(bus, stop=asyncio.Event(), heartbeat=0.05, size=2)
        got = [await anext(chunks)]
        publisher = threading.Thread(
            target=lambda: [
                bus.publish(
                    Event(
                        type=EventType.RUN_UPDATED,
                        at=datetime(2026, 1, 1, tzinfo=UTC),
                        source="s",
                        message=str(i),
                    )
                )
                for i in range(5)
            ]
        )
        publisher.start()
        publisher.join()
        await asyncio.sleep(0.01)
        got += [await anext(chunks) for _ in range(4)]
        await chunks.aclose()
        return got

    got = asyncio.run(scenario())
    assert got[1] == b'event: resync\ndata: {"reason": "events were dropped; reload"}\n\n'
    assert [json.loads(c.split(b"data: ")[1])["message"] for c in got[2:4]] == ["3", "4"]
    assert got[4] == b": heartbeat\n\n"
    assert bus._subscribers == []
