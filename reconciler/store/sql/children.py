"""The table and queries behind `children.Children`, for any SQL store."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import sqlalchemy as sa

from reconciler.store import codec
from reconciler.store.children import ChildGroup
from reconciler.store.sql import schema

table = sa.Table(
    "child_groups",
    schema.metadata,
    sa.Column("pgid", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("daemon_pid", sa.Integer, nullable=False),
    sa.Column("started_at", schema.UtcDateTime, nullable=False),
    sa.Column("owner", sa.String, nullable=False),
)

Connect = AbstractContextManager[sa.Connection]


class ChildrenMixin:
    """`Children` for any SQLAlchemy store with `_write()` and `_read()`."""

    _write: Callable[[], Connect]  # provided by the store
    _read: Callable[[], Connect]

    def record_child(self, child: ChildGroup) -> None:
        row: dict[str, Any] = {
            "pgid": child.pgid,
            "daemon_pid": child.daemon_pid,
            "started_at": codec.utc(child.started_at),
            "owner": child.owner,
        }
        with self._write() as conn:
            conn.execute(sa.delete(table).where(table.c.pgid == child.pgid))
            conn.execute(sa.insert(table).values(row))

    def forget_child(self, pgid: int) -> None:
        with self._write() as conn:
            conn.execute(sa.delete(table).where(table.c.pgid == pgid))

    def children(self, *, other_than: int | None = None) -> list[ChildGroup]:
        query = sa.select(table).order_by(table.c.started_at, table.c.pgid)
        if other_than is not None:
            query = query.where(table.c.daemon_pid != other_than)
        with self._read() as conn:
            return [ChildGroup(**dict(r)) for r in conn.execute(query).mappings()]
