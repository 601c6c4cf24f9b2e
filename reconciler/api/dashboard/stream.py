"""The live feed behind `GET /api/v1/stream`: the event bus as server-sent events.

The bus delivers on whichever thread published (a source's worker, the loop's thread
pool), so each connected client gets its own bounded `asyncio.Queue` fed through
`loop.call_soon_threadsafe`. A client too slow to keep up loses the oldest events and is
sent a `resync` event instead, telling it to reload what it shows; a comment line every
`heartbeat` seconds keeps proxies from closing an idle stream and lets the server notice a
client that went away. Streams end when the server stops (`stop`), which would otherwise
wait for them forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from reconciler.events import Bus, Event

RETRY_MS = 2000
"""How long a disconnected browser waits before reconnecting."""


def encode(kind: str, data: dict[str, Any]) -> bytes:
    return f"event: {kind}\ndata: {json.dumps(data, default=str)}\n\n".encode()


def event_json(event: Event) -> dict[str, Any]:
    return {
        "type": event.type.value,
        "at": event.at.isoformat(),
        "source": event.source,
        "objectKey": event.object_key,
        "message": event.message,
        "data": event.data,
    }


class ClientQueue:
    """One client's bounded queue; `offer` may be called from any thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop, *, size: int) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=size)
        self.overflowed = False

    def offer(self, event: Event) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed under us: nobody listens
            self.loop.call_soon_threadsafe(self._put, encode("message", event_json(event)))

    def _put(self, chunk: bytes) -> None:
        if self.queue.full():
            self.overflowed = True
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
        self.queue.put_nowait(chunk)


async def events(
    bus: Bus, *, stop: asyncio.Event, heartbeat: float = 15.0, size: int = 256
) -> AsyncIterator[bytes]:
    """The SSE byte stream of one client, until it disconnects or `stop` is set."""
    client = ClientQueue(asyncio.get_running_loop(), size=size)
    unsubscribe = bus.subscribe(client.offer)
    stopping: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
    getting: asyncio.Future[Any] | None = None
    try:
        yield f"retry: {RETRY_MS}\n: connected\n\n".encode()
        while not stop.is_set():
            getting = getting or asyncio.ensure_future(client.queue.get())
            await asyncio.wait(
                {getting, stopping}, timeout=heartbeat, return_when=asyncio.FIRST_COMPLETED
            )
            if not getting.done():
                if not stop.is_set():
                    yield b": heartbeat\n\n"
                continue
            chunk: bytes = getting.result()
            getting = None
            if client.overflowed:
                client.overflowed = False
                yield encode("resync", {"reason": "events were dropped; reload"})
            yield chunk
    finally:
        for pending in (stopping, getting):
            if pending is not None:
                pending.cancel()
        unsubscribe()
