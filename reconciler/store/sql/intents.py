"""The table and queries behind `intents.Intents`, for any SQL store."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager

import sqlalchemy as sa

from reconciler.store import codec
from reconciler.store.intents import ApplyIntent
from reconciler.store.sql import schema

table = sa.Table(
    "apply_intents",
    schema.metadata,
    sa.Column("source", sa.String, primary_key=True),
    sa.Column("key", sa.String, primary_key=True),
    sa.Column("revision", sa.String, nullable=False),
    sa.Column("at", schema.UtcDateTime, nullable=False),
)

Connect = AbstractContextManager[sa.Connection]
_CHUNK = 500  # keys per DELETE: below SQLite's bound-parameter limit


class IntentsMixin:
    """`Intents` for any SQLAlchemy store with `_write()` and `_read()`."""

    _write: Callable[..., Connect]  # provided by the store
    _read: Callable[[], Connect]

    def intend_apply(self, intent: ApplyIntent) -> None:
        where = (table.c.source == intent.source) & (table.c.key == intent.key)
        row = {
            "source": intent.source,
            "key": intent.key,
            "revision": intent.revision,
            "at": codec.utc(intent.at),
        }
        with self._write(lock=None) as conn:
            conn.execute(sa.delete(table).where(where))
            conn.execute(sa.insert(table).values(row))

    def apply_intents(self, source: str) -> dict[str, ApplyIntent]:
        query = sa.select(table).where(table.c.source == source)
        with self._read() as conn:
            return {r["key"]: ApplyIntent(**dict(r)) for r in conn.execute(query).mappings()}

    def forget_intents(self, source: str, keys: Iterable[str]) -> None:
        chosen = sorted(set(keys))
        if not chosen:
            return
        with self._write(lock=None) as conn:
            for start in range(0, len(chosen), _CHUNK):
                part = chosen[start : start + _CHUNK]
                conn.execute(
                    sa.delete(table).where((table.c.source == source) & table.c.key.in_(part))
                )
