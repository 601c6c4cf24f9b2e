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
    sa.Column("host", sa.String, primary_key=True),
    sa.Column("pgid", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("replica", sa.String, nullable=False),
    sa.Column("daemon_pid", sa.Integer, nullable=False),
    sa.Column("started_at", schema.UtcDateTime, nullable=False),
    sa.Column("owner", sa.String, nullable=False),
)

Connect = AbstractContextManager[sa.Connection]


def _key(host: str, pgid: int) -> sa.ColumnElement[bool]:
    return (table.c.host == host) & (table.c.pgid == pgid)


class ChildrenMixin:
    """`Children` for any SQLAlchemy store with `_write()` and `_read()`."""

    _write: Callable[..., Connect]  # provided by the store
    _read: Callable[[], Connect]

    def record_child(self, child: ChildGroup) -> None:
        row: dict[str, Any] = {
            "pgid": child.pgid,
            "daemon_pid": child.daemon_pid,
            "started_at": codec.utc(child.started_at),
            "owner": child.owner,
            "host": child.host,
            "replica": child.replica,
        }
        with self._write(lock=None) as conn:
            conn.execute(sa.delete(table).where(_key(child.host, child.pgid)))
            conn.execute(sa.insert(table).values(row))

    def forget_child(self, pgid: int, *, host: str = "") -> None:
        with self._write(lock=None) as conn:
            conn.execute(sa.delete(table).where(_key(host, pgid)))

    def children(
        self, *, host: str | None = None, other_than: int | None = None
    ) -> list[ChildGroup]:
        query = sa.select(table).order_by(table.c.started_at, table.c.host, table.c.pgid)
        if host is not None:
            query = query.where(table.c.host.in_(sorted({host, ""})))
        if other_than is not None:
            query = query.where(table.c.daemon_pid != other_than)
        with self._read() as conn:
            return [ChildGroup(**dict(r)) for r in conn.execute(query).mappings()]
