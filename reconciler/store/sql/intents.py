"""The table and queries behind `intents.Intents`, for any SQL store."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any

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
    """`Intents` for any SQLAlchemy store with `_write()`, `_read()` and `_upsert()`."""

    _write: Callable[..., Connect]  # provided by the store
    _read: Callable[[], Connect]
    _upsert: Callable[[sa.Table], Any]

    def intend_apply(self, intents: Iterable[ApplyIntent]) -> None:
        chosen = {(i.source, i.key): i for i in intents}  # the last one of an object wins
        if not chosen:
            return
        stmt = self._upsert(table)
        upsert = stmt.on_conflict_do_update(
            index_elements=["source", "key"],
            set_={"revision": stmt.excluded.revision, "at": stmt.excluded.at},
        )
        rows = [
            {"source": i.source, "key": i.key, "revision": i.revision, "at": codec.utc(i.at)}
            for i in chosen.values()
        ]
        with self._write(lock=None) as conn:  # an upsert of the source owner's rows
            conn.execute(upsert, rows)

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
