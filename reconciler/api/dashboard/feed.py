"""The overview's event list: repeats collapsed, each object linked to the page that exists.

A daemon left alone writes the same event again and again (a `ReconcileFinished` every
interval, a `ResourceBlocked` every pass while a policy denies). The store keeps every
record; the list shows an event that repeats the previous one of the same source and
object (same type, reason, revision and message) as one row with a count and the times of
the first and the last. Event object keys are resource keys (`Kind/namespace/name`) or
runs (`run/<id>`); a key is linked only to a page that answers, so an object deleted since
or a run pruned by retention is shown as text.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from reconciler.api import views
from reconciler.store.interfaces import EventRecord, Store

RUN_PREFIX = "run/"


@dataclass(frozen=True, kw_only=True)
class Entry:
    """Consecutive repeats of one event: the first and the newest, and how many there were."""

    first: EventRecord
    last: EventRecord
    count: int


def identity(event: EventRecord) -> tuple[Hashable, ...]:
    """What makes two events repeats of each other (ids, times and measurements aside)."""
    data = event.data
    reason = data.get("reason") or data.get("result")
    revision = data.get("revision") or data.get("applied_revision")
    return (event.type, event.object_key, data.get("source"), reason, revision, event.message)


def _stream(event: EventRecord) -> tuple[Hashable, ...]:
    return (event.data.get("source"), event.object_key)


def collapse(events: Iterable[EventRecord]) -> list[Entry]:
    """Events (oldest first) as entries, newest first: an event identical to the previous
    one of its source and object joins that one's entry."""
    entries: list[Entry] = []
    open_: dict[tuple[Hashable, ...], int] = {}
    for event in events:
        at = open_.get(_stream(event))
        if at is not None and identity(entries[at].last) == identity(event):
            entry = entries[at]
            entries[at] = Entry(first=entry.first, last=event, count=entry.count + 1)
        else:
            open_[_stream(event)] = len(entries)
            entries.append(Entry(first=event, last=event, count=1))
    return sorted(entries, key=lambda e: e.last.id or 0, reverse=True)


def resource_path(key: str) -> str:
    return "/resources/" + quote(key, safe="/")


def run_path(run_id: str) -> str:
    """A child run's id holds its parent's, a `/` and `#`: the route takes the whole path."""
    return "/runs/" + quote(run_id, safe="/")


def decisions_path(**filters: str) -> str:
    return "/decisions?" + urlencode(filters)


class Links:
    """Links to the page of an object key, asking the store once per key whether it exists."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._known: dict[str, str | None] = {}

    def object(self, key: str | None) -> str | None:
        if not key:
            return None
        if key not in self._known:
            self._known[key] = self._find(key)
        return self._known[key]

    def _find(self, key: str) -> str | None:
        if key.startswith(RUN_PREFIX):  # kinds are CamelCase: no resource key starts so
            run_id = key.removeprefix(RUN_PREFIX)
            return run_path(run_id) if self.store.get_run(run_id) is not None else None
        return resource_path(key) if self.store.get_status(key) is not None else None

    def resource(self, key: str) -> str:
        """The object's page when it is managed, else every decision about it."""
        return self.object(key) or decisions_path(key=key)


def entry_json(entry: Entry, links: Links) -> dict[str, Any]:
    body = views.event(entry.last)
    body["href"] = links.object(entry.last.object_key)
    body["source"] = entry.last.data.get("source") or ""
    body["count"] = entry.count
    body["firstAt"] = views.when(entry.first.at)
    return body
