"""The notification outbox: each message is written here before it is sent.

A notification becomes one row per channel it is routed to, in one transaction, before any
delivery is tried; the sender marks a row sent when the receiver took it, or schedules the
next attempt when it did not. A daemon that stops (or is killed) between the two finds the
row still pending when it starts again, so a restart loses no notification. The row holds
the rendered message, never a channel's secret (that stays in the environment). Rows that
share a dedupe key within the dedupe window are written once. Sent and abandoned rows are
pruned after `KEEP`; pending ones never are. `sql.outbox` holds the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

KEEP = timedelta(days=7)
"""How long sent and abandoned notifications stay in the outbox."""


class Delivery(StrEnum):
    PENDING = "pending"  # not delivered yet; tried again at `next_at`
    SENT = "sent"  # the receiver took it
    FAILED = "failed"  # abandoned after the last attempt; kept for inspection


@dataclass(frozen=True, kw_only=True)
class Notification:
    """One message for one channel."""

    channel: str
    event_type: str
    dedupe_key: str
    created_at: datetime
    message: dict[str, Any]
    """The rendered message: `title`, `text`, `severity`, `event` (its fields)."""
    seq: int = 0
    """Assigned by the store."""
    status: Delivery = Delivery.PENDING
    attempts: int = 0
    next_at: datetime | None = None
    sent_at: datetime | None = None
    error: str = ""


class Outbox(Protocol):
    """The store's role for notifications waiting to be delivered."""

    def enqueue_notifications(
        self, notifications: Sequence[Notification], *, dedupe_key: str, since: datetime
    ) -> int:
        """Write `notifications` unless a row with `dedupe_key` was written at or after
        `since`; returns how many were written (0 for a duplicate)."""
        ...

    def due_notifications(self, *, now: datetime, limit: int = 100) -> list[Notification]:
        """Pending rows whose next attempt is due, oldest first."""
        ...

    def mark_notification(
        self,
        seq: int,
        *,
        status: Delivery,
        attempts: int,
        at: datetime,
        next_at: datetime | None = None,
        error: str = "",
    ) -> None:
        """Record an attempt: sent at `at`, pending until `next_at`, or failed."""
        ...

    def notifications_sent_since(self, channel: str, since: datetime) -> int:
        """Rows of `channel` sent at or after `since` (the rate limit's count)."""
        ...

    def notifications(self, *, limit: int = 100) -> list[Notification]:
        """Newest first, whatever their status."""
        ...

    def prune_notifications(self, *, before: datetime) -> int:
        """Delete sent and failed rows created before `before`; returns how many."""
        ...
