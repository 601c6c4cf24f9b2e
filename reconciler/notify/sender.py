"""Delivering the outbox: due rows are sent, marked sent, or rescheduled with backoff.

Each sweep reads the pending rows that are due (a restarted daemon finds what its
predecessor left), holds back a channel that has had its messages for the minute (the row
waits a minute, it is not dropped), and retries a failed delivery after an exponential,
jittered delay (`run.retry`'s), until the last attempt leaves it `failed` in the outbox.
Time and randomness are injected; the loop only decides when to sweep.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
from collections.abc import Callable, Mapping
from datetime import timedelta

from reconciler.clock import Clock
from reconciler.notify import channels
from reconciler.notify.settings import Channel, NotificationSettings
from reconciler.run.retry import RetryPolicy
from reconciler.specs.types import seconds
from reconciler.store.outbox import KEEP, Delivery, Notification, Outbox

log = logging.getLogger(__name__)
MINUTE = timedelta(minutes=1)
POLL = 5.0
"""Seconds between sweeps when nothing wakes the sender (retries come due meanwhile)."""


class Sender:
    def __init__(
        self,
        settings: NotificationSettings,
        *,
        store: Outbox,
        clock: Clock,
        rand: Callable[[], float] = random.random,
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        self.settings, self.store, self.clock = settings, store, clock
        self.rand, self.environ = rand, environ
        self.channels = {c.name: c for c in settings.channels}
        self.retry = RetryPolicy(
            max_attempts=settings.retry.attempts,
            backoff=seconds(settings.retry.backoff),
            max_backoff=seconds(settings.retry.max_backoff),
        )

    def deliver_due(self) -> int:
        """One sweep; returns how many rows were sent."""
        now = self.clock.now()
        sent = 0
        for row in self.store.due_notifications(now=now):
            sent += self._deliver(row)
        self.store.prune_notifications(before=now - KEEP)
        return sent

    def _deliver(self, row: Notification) -> int:
        now = self.clock.now()
        channel = self.channels.get(row.channel)
        if channel is None:
            self._give_up(row, f"no channel named {row.channel} is configured")
            return 0
        if self._over_limit(channel):
            self.store.mark_notification(
                row.seq,
                status=Delivery.PENDING,
                attempts=row.attempts,
                at=now,
                next_at=now + MINUTE,
            )
            return 0
        try:
            channels.send(channel, row.message, environ=self.environ, now=now)
        except channels.DeliveryFailed as exc:
            self._failed(row, str(exc))
            return 0
        self.store.mark_notification(
            row.seq, status=Delivery.SENT, attempts=row.attempts + 1, at=now
        )
        return 1

    def _over_limit(self, channel: Channel) -> bool:
        since = self.clock.now() - MINUTE
        sent = self.store.notifications_sent_since(channel.name, since)
        return sent >= self.settings.rate_limit.per_channel

    def _failed(self, row: Notification, error: str) -> None:
        attempts = row.attempts + 1
        if attempts >= self.retry.max_attempts:
            self._give_up(row, error, attempts=attempts)
            return
        delay = self.retry.delay(attempt=attempts, rand=self.rand)
        now = self.clock.now()
        log.warning(
            "notification %d to %s failed (attempt %d), again in %.0fs: %s",
            row.seq,
            row.channel,
            attempts,
            delay,
            error,
        )
        self.store.mark_notification(
            row.seq,
            status=Delivery.PENDING,
            attempts=attempts,
            at=now,
            next_at=now + timedelta(seconds=delay),
            error=error,
        )

    def _give_up(self, row: Notification, error: str, *, attempts: int | None = None) -> None:
        log.error("notification %d to %s abandoned: %s", row.seq, row.channel, error)
        self.store.mark_notification(
            row.seq,
            status=Delivery.FAILED,
            attempts=row.attempts if attempts is None else attempts,
            at=self.clock.now(),
            error=error,
        )

    async def run(self, stop: asyncio.Event, wake: asyncio.Event) -> None:
        """Sweep when woken and every `POLL` seconds, until `stop` is set."""
        while not stop.is_set():
            wake.clear()
            try:
                await asyncio.to_thread(self.deliver_due)
            except Exception:
                log.exception("delivering notifications failed; trying again")
            waiters = [asyncio.ensure_future(e.wait()) for e in (stop, wake)]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.wait(waiters, return_when="FIRST_COMPLETED"), POLL)
            for waiter in waiters:
                waiter.cancel()
