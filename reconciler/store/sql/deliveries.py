"""The table and query behind `deliveries.Deliveries`, for any SQL store."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime

import sqlalchemy as sa

from reconciler.store.deliveries import KEEP
from reconciler.store.sql import schema

table = sa.Table(
    "webhook_deliveries",
    schema.metadata,
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("forge", sa.String, nullable=False),
    sa.Column("delivery_id", sa.String, nullable=False),
    sa.Column("at", schema.UtcDateTime, nullable=False),
    sa.UniqueConstraint("forge", "delivery_id", name="uq_webhook_deliveries"),
    sqlite_autoincrement=True,
)


class DeliveriesMixin:
    """`Deliveries` for any SQLAlchemy store with `_write()`."""

    _write: Callable[[], AbstractContextManager[sa.Connection]]  # provided by the store

    def first_delivery(
        self, forge: str, delivery_id: str, *, at: datetime, keep: int = KEEP
    ) -> bool:
        found = sa.select(table.c.seq).where(
            table.c.forge == forge, table.c.delivery_id == delivery_id
        )
        with self._write() as conn:
            if conn.execute(found).first() is not None:
                return False
            row = conn.execute(sa.insert(table).values(forge=forge, delivery_id=delivery_id, at=at))
            newest = int(row.inserted_primary_key[0])  # type: ignore[index]
            conn.execute(sa.delete(table).where(table.c.seq <= newest - keep))
            return True
