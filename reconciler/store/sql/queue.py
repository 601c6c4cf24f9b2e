"""The table and queries behind `queue.Queue`, for any SQL store."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from reconciler.store import codec
from reconciler.store.queue import QueuedWork
from reconciler.store.sql import schema

table = sa.Table(
    "work_queue",
    schema.metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String, nullable=False),
    sa.Column("target", sa.String, nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("queued_at", schema.UtcDateTime, nullable=False),
    sa.Index("ix_work_queue_kind_target", "kind", "target", "id"),
    sqlite_autoincrement=True,
)

claims = sa.Table(
    "claims",
    schema.metadata,
    sa.Column("key", sa.String, primary_key=True),
    sa.Column("at", schema.UtcDateTime, nullable=False),
)


class QueueMixin:
    """`Queue` for any SQLAlchemy store with `_write()`."""

    _write: Callable[..., AbstractContextManager[sa.Connection]]  # provided by the store
    _upsert: Callable[[sa.Table], Any]

    def enqueue(self, kind: str, target: str, *, payload: dict[str, Any], at: datetime) -> int:
        row = {"kind": kind, "target": target, "payload": payload, "queued_at": codec.utc(at)}
        with self._write(lock=None) as conn:
            result = conn.execute(sa.insert(table).values(row))
            return int(result.inserted_primary_key[0])  # type: ignore[index]

    def take(
        self, kind: str | tuple[str, ...], *, targets: Iterable[str], limit: int = 100
    ) -> list[QueuedWork]:
        chosen = sorted(set(targets))
        if not chosen:
            return []
        kinds = [kind] if isinstance(kind, str) else sorted(kind)
        query = (
            sa.select(table)
            .where(table.c.kind.in_(kinds), table.c.target.in_(chosen))
            .order_by(table.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        with self._write(lock=None) as conn:
            found = [QueuedWork(**dict(r)) for r in conn.execute(query).mappings()]
            if found:
                conn.execute(sa.delete(table).where(table.c.id.in_([w.id for w in found])))
        return found

    def claim(self, key: str, *, at: datetime, quiet: timedelta) -> bool:
        at = codec.utc(at)
        stmt = self._upsert(claims).values(key=key, at=at)
        stmt = stmt.on_conflict_do_update(
            index_elements=["key"],
            set_={"at": stmt.excluded.at},
            where=claims.c.at <= at - quiet,
        ).returning(claims.c.key)
        with self._write(lock=None) as conn:
            return conn.execute(stmt).first() is not None
