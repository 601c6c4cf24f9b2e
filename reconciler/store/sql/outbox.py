"""The table and queries behind `outbox.Outbox`, for any SQL store."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from reconciler.store import codec
from reconciler.store.outbox import Delivery, Notification
from reconciler.store.sql import schema

table = sa.Table(
    "notification_outbox",
    schema.metadata,
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("channel", sa.String, nullable=False),
    sa.Column("event_type", sa.String, nullable=False),
    sa.Column("dedupe_key", sa.String, nullable=False, index=True),
    sa.Column("created_at", schema.UtcDateTime, nullable=False),
    sa.Column("message", sa.JSON, nullable=False),
    sa.Column("status", sa.String, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_at", schema.UtcDateTime, nullable=True),
    sa.Column("sent_at", schema.UtcDateTime, nullable=True),
    sa.Column("error", sa.String, nullable=False),
    sa.Index("ix_notification_outbox_due", "status", "next_at"),
    sa.Index("ix_notification_outbox_sent", "channel", "sent_at"),
    sqlite_autoincrement=True,
)

Connect = AbstractContextManager[sa.Connection]


class OutboxMixin:
    """`Outbox` for any SQLAlchemy store with `_write()` and `_read()`."""

    _write: Callable[[], Connect]  # provided by the store
    _read: Callable[[], Connect]

    def enqueue_notifications(
        self, notifications: Sequence[Notification], *, dedupe_key: str, since: datetime
    ) -> int:
        seen = sa.select(table.c.seq).where(
            table.c.dedupe_key == dedupe_key, table.c.created_at >= codec.utc(since)
        )
        with self._write() as conn:
            if not notifications or conn.execute(seen.limit(1)).first() is not None:
                return 0
            conn.execute(sa.insert(table), [_row(n) for n in notifications])
        return len(notifications)

    def due_notifications(self, *, now: datetime, limit: int = 100) -> list[Notification]:
        query = (
            sa.select(table)
            .where(table.c.status == Delivery.PENDING.value, table.c.next_at <= codec.utc(now))
            .order_by(table.c.seq)
            .limit(limit)
        )
        with self._read() as conn:
            return [_notification(r) for r in conn.execute(query).mappings()]

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
        values: dict[str, Any] = {"status": status.value, "attempts": attempts, "error": error}
        values["next_at"] = codec.utc_or_none(next_at)
        if status is Delivery.SENT:
            values["sent_at"] = codec.utc(at)
        with self._write() as conn:
            conn.execute(sa.update(table).where(table.c.seq == seq).values(values))

    def notifications_sent_since(self, channel: str, since: datetime) -> int:
        query = sa.select(sa.func.count()).where(
            table.c.channel == channel, table.c.sent_at >= codec.utc(since)
        )
        with self._read() as conn:
            return int(conn.execute(query).scalar_one())

    def notifications(self, *, limit: int = 100) -> list[Notification]:
        query = sa.select(table).order_by(table.c.seq.desc()).limit(limit)
        with self._read() as conn:
            return [_notification(r) for r in conn.execute(query).mappings()]

    def prune_notifications(self, *, before: datetime) -> int:
        done = (Delivery.SENT.value, Delivery.FAILED.value)
        query = sa.delete(table).where(
            table.c.status.in_(done), table.c.created_at < codec.utc(before)
        )
        with self._write() as conn:
            return int(conn.execute(query).rowcount)


def _row(notification: Notification) -> dict[str, Any]:
    return {
        "channel": notification.channel,
        "event_type": notification.event_type,
        "dedupe_key": notification.dedupe_key,
        "created_at": codec.utc(notification.created_at),
        "message": notification.message,
        "status": notification.status.value,
        "attempts": notification.attempts,
        "next_at": codec.utc(notification.next_at or notification.created_at),
        "sent_at": None,
        "error": notification.error,
    }


def _notification(row: Any) -> Notification:
    fields = dict(row)
    fields["status"] = Delivery(fields["status"])
    return Notification(**fields)
