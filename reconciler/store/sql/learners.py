"""The table and queries behind `learners.Learners`, for any SQL store."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import sqlalchemy as sa

from reconciler.store.sql import schema

table = sa.Table(
    "learners",
    schema.metadata,
    sa.Column("name", sa.String, primary_key=True),
    sa.Column("state", sa.Text, nullable=False),
)

Connect = AbstractContextManager[sa.Connection]


class LearnersMixin:
    """`Learners` for any SQLAlchemy store with `_write()` and `_read()`."""

    _write: Callable[[], Connect]  # provided by the store
    _read: Callable[[], Connect]

    def save_learner(self, name: str, state: str) -> None:
        with self._write() as conn:
            done = conn.execute(sa.update(table).where(table.c.name == name).values(state=state))
            if not done.rowcount:
                conn.execute(sa.insert(table).values(name=name, state=state))

    def load_learner(self, name: str) -> str | None:
        with self._read() as conn:
            found = conn.execute(sa.select(table.c.state).where(table.c.name == name)).scalar()
        return None if found is None else str(found)
