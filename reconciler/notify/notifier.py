"""From events to the outbox: the bus subscriber that routes, renders and queues notices.

A notice is written to the outbox (one row per channel) before anything is sent, and the
sender is woken; the write is the promise that it will be delivered, even across a restart.
The dedupe key is the event type, object and message, so the same thing said again within
the dedupe window is queued once, whatever the channels.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import timedelta

from reconciler.clock import Clock
from reconciler.events import Event
from reconciler.notify import notices, render, routing
from reconciler.notify.notices import Notice
from reconciler.notify.settings import NotificationSettings
from reconciler.specs.types import seconds
from reconciler.store.interfaces import EventRecord
from reconciler.store.outbox import Notification, Outbox

log = logging.getLogger(__name__)


class Notifier:
    def __init__(
        self,
        settings: NotificationSettings,
        *,
        store: Outbox,
        clock: Clock,
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        self.settings, self.store, self.clock, self.wake = settings, store, clock, wake

    def on_event(self, event: Event) -> None:
        """Bus subscriber."""
        notice = notices.from_event(event)
        if notice is not None:
            self.queue(notice)

    def on_record(self, record: EventRecord) -> None:
        """For events the run engine records straight into the store (approvals)."""
        notice = notices.from_record(record)
        if notice is not None:
            self.queue(notice)

    def queue(self, notice: Notice) -> int:
        """Write the notice to the outbox for each routed channel; returns the rows written
        (0 when no route matches or it is a duplicate)."""
        chosen = routing.channels(notice, self.settings.routes)
        if not chosen:
            return 0
        now = self.clock.now()
        message = render.message(notice)
        key = dedupe_key(notice)
        rows = [
            Notification(
                channel=name,
                event_type=notice.type,
                dedupe_key=key,
                created_at=now,
                message=message,
                next_at=now,
            )
            for name in chosen
        ]
        window = timedelta(seconds=seconds(self.settings.dedupe_window))
        written = self.store.enqueue_notifications(rows, dedupe_key=key, since=now - window)
        if written:
            self.wake()
        else:
            log.debug("notification %s for %s is a duplicate", notice.type, notice.object_key)
        return written


def dedupe_key(notice: Notice) -> str:
    text = "\0".join((notice.type, notice.object_key or "", notice.message))
    return hashlib.sha256(text.encode()).hexdigest()
