"""Rendered API responses kept until the daemon's state changes.

Dashboards poll the same lists over and over while nothing changes; reading and encoding
every status each time costs milliseconds of store decoding per request. Every state change
is published on the event bus after it is written, so a response rendered while the event
count stood at N is still right as long as the count is N. An event that arrives while a
response is being rendered leaves that response tagged with the older count, so it is
never served. The bus is one daemon's: replicas sharing a store keep no entries
(`max_entries=0`), since another replica's writes publish nothing here.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from reconciler.events import Event


class RenderCache:
    """Bodies by request key, valid until the next event; bounded, least recently used out."""

    def __init__(self, *, max_entries: int = 64) -> None:
        self._max = max_entries
        self._lock = threading.Lock()
        self._generation = 0
        self._entries: OrderedDict[str, tuple[int, bytes]] = OrderedDict()

    def observe(self, event: Event) -> None:
        """Bus subscriber: any event may have changed what a cached body shows."""
        with self._lock:
            self._generation += 1
            self._entries.clear()

    def get(self, key: str, render: Callable[[], bytes]) -> bytes:
        with self._lock:
            generation = self._generation
            hit = self._entries.get(key)
            if hit is not None and hit[0] == generation:
                self._entries.move_to_end(key)
                return hit[1]
        body = render()
        with self._lock:
            if generation == self._generation:
                self._entries[key] = (generation, body)
                self._entries.move_to_end(key)
                while len(self._entries) > self._max:
                    self._entries.popitem(last=False)
        return body
