"""The table and guarded statements behind `leases.Leases`, for any SQL store.

`acquire` is one INSERT ... ON CONFLICT DO UPDATE ... WHERE ... RETURNING: the database
decides in one statement whether the row is free, expired or the caller's, and the token
it returns is the row as written (PostgreSQL and SQLite both spell it so). `check_fence`
reads the row `FOR UPDATE` inside the caller's write transaction, so no acquire can slip
between the check and the write it guards (SQLite has one writer at a time anyway).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from reconciler.store import codec
from reconciler.store.leases import Fence, Lease, LeaseLost
from reconciler.store.sql import schema

table = sa.Table(
    "leases",
    schema.metadata,
    sa.Column("name", sa.String, primary_key=True),
    sa.Column("holder", sa.String, nullable=False),
    sa.Column("token", sa.Integer, nullable=False),
    sa.Column("acquired_at", schema.UtcDateTime, nullable=False),
    sa.Column("renewed_at", schema.UtcDateTime, nullable=False),
    sa.Column("expires_at", schema.UtcDateTime, nullable=False),
)

Connect = AbstractContextManager[sa.Connection]


def check_fence(conn: sa.Connection, fence: Fence) -> None:
    """Raise `LeaseLost` unless lease `fence.name` still carries `fence.token`."""
    query = (
        sa.select(table.c.holder, table.c.token).where(table.c.name == fence.name).with_for_update()
    )
    row = conn.execute(query).first()
    if row is None or row.token != fence.token:
        raise LeaseLost(
            fence,
            now_token=None if row is None else row.token,
            holder=None if row is None else row.holder,
        )


class LeasesMixin:
    """`Leases` for any SQLAlchemy store with `_write()`, `_read()` and `_upsert()`."""

    _write: Callable[..., Connect]  # provided by the store
    _read: Callable[[], Connect]
    _upsert: Callable[[sa.Table], Any]

    def acquire(self, name: str, holder: str, *, ttl: timedelta, now: datetime) -> int | None:
        now = codec.utc(now)
        stmt = self._upsert(table).values(
            name=name,
            holder=holder,
            token=1,
            acquired_at=now,
            renewed_at=now,
            expires_at=now + ttl,
        )
        new = stmt.excluded
        ours = (table.c.holder == new.holder) & (table.c.expires_at > now)
        stmt = stmt.on_conflict_do_update(
            index_elements=["name"],
            set_={
                "holder": new.holder,
                "token": sa.case((ours, table.c.token), else_=table.c.token + 1),
                "acquired_at": sa.case((ours, table.c.acquired_at), else_=new.acquired_at),
                "renewed_at": new.renewed_at,
                "expires_at": new.expires_at,
            },
            where=(table.c.holder == new.holder) | (table.c.expires_at <= now),
        ).returning(table.c.token)
        with self._write(lock=None) as conn:  # one statement decides
            token = conn.execute(stmt).scalar()
        return None if token is None else int(token)

    def renew(self, name: str, holder: str, *, token: int, ttl: timedelta, now: datetime) -> bool:
        now = codec.utc(now)
        update = (
            sa.update(table)
            .where(table.c.name == name, table.c.holder == holder, table.c.token == token)
            .values(renewed_at=now, expires_at=now + ttl)
        )
        with self._write(lock=None) as conn:
            return conn.execute(update).rowcount == 1

    def renew_all(
        self, holder: str, *, tokens: Mapping[str, int], ttl: timedelta, now: datetime
    ) -> set[str]:
        if not tokens:
            return set()
        now = codec.utc(now)
        pairs = sorted(tokens.items())
        update = (
            sa.update(table)
            .where(table.c.holder == holder, sa.tuple_(table.c.name, table.c.token).in_(pairs))
            .values(renewed_at=now, expires_at=now + ttl)
            .returning(table.c.name)
        )
        with self._write(lock=None) as conn:
            return set(conn.execute(update).scalars())

    def release(self, name: str, holder: str, *, token: int, now: datetime) -> bool:
        update = (
            sa.update(table)
            .where(table.c.name == name, table.c.holder == holder, table.c.token == token)
            .values(expires_at=codec.utc(now))
        )
        with self._write(lock=None) as conn:
            return conn.execute(update).rowcount == 1

    def database_now(self) -> datetime | None:
        return None  # the caller's machine's store (SQLite); a server's overrides this

    def holders(self, *, prefix: str = "") -> list[Lease]:
        query = sa.select(table).order_by(table.c.name)
        if prefix:
            query = query.where(table.c.name.startswith(prefix, autoescape=True))
        with self._read() as conn:
            return [Lease(**dict(r)) for r in conn.execute(query).mappings()]
