"""The tables and queries behind `proposals.Proposals`, for any SQL store."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict
from typing import Any

import sqlalchemy as sa

from reconciler.store import codec, interfaces
from reconciler.store.proposals import ProposalEntry
from reconciler.store.sql import schema

table = sa.Table(
    "proposals",
    schema.metadata,
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("id", sa.String, nullable=False, unique=True),
    sa.Column("type", sa.String, nullable=False),
    sa.Column("subject", sa.String, nullable=False, index=True),
    sa.Column("branch", sa.String, nullable=False),
    sa.Column("commit", sa.String, nullable=False),
    sa.Column("base", sa.String, nullable=False),
    sa.Column("state", sa.String, nullable=False, index=True),
    sa.Column("proposed_at", schema.UtcDateTime, nullable=False),
    sa.Column("updated_at", schema.UtcDateTime, nullable=False),
    sa.Column("landed_by", sa.String, nullable=True),
    sa.Column("landed_commit", sa.String, nullable=True),
    sa.Column("landed_at", schema.UtcDateTime, nullable=True),
    sa.Column("closed_reason", sa.String, nullable=True),
    sqlite_autoincrement=True,
)

flags = sa.Table(
    "optimization_flags",
    schema.metadata,
    sa.Column("run_id", sa.String, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("note", sa.String, nullable=False),
    sa.PrimaryKeyConstraint("run_id", "position"),
)
"""The policy bindings an optimization run flagged; they go with their run."""

Connect = AbstractContextManager[sa.Connection]


class ProposalsMixin:
    """`Proposals` for any SQLAlchemy store with `_write()` and `_read()`."""

    _write: Callable[[], Connect]  # provided by the store
    _read: Callable[[], Connect]

    def put_proposal(self, entry: ProposalEntry) -> None:
        row = _row(entry)
        with self._write() as conn:
            done = conn.execute(sa.update(table).where(table.c.id == entry.id).values(row))
            if not done.rowcount:
                conn.execute(sa.insert(table).values(row))

    def get_proposal(self, proposal_id: str) -> ProposalEntry | None:
        with self._read() as conn:
            found = conn.execute(sa.select(table).where(table.c.id == proposal_id)).mappings()
            return next((_entry(r) for r in found), None)

    def proposals(
        self,
        *,
        states: Sequence[str] | None = None,
        type: str | None = None,
        subject: str | None = None,
        limit: int = 100,
    ) -> list[ProposalEntry]:
        query = sa.select(table).order_by(table.c.proposed_at.desc(), table.c.seq.desc())
        if states is not None:
            query = query.where(table.c.state.in_(list(states)))
        for column, value in {"type": type, "subject": subject}.items():
            if value is not None:
                query = query.where(table.c[column] == value)
        with self._read() as conn:
            return [_entry(r) for r in conn.execute(query.limit(limit)).mappings()]

    def put_flagged(self, run_id: str, notes: Sequence[str]) -> None:
        runs = schema.runs
        with self._write() as conn:
            if conn.execute(sa.select(runs.c.id).where(runs.c.id == run_id)).first() is None:
                raise interfaces.RunNotFound(run_id)
            conn.execute(sa.delete(flags).where(flags.c.run_id == run_id))
            if notes:
                rows = [{"run_id": run_id, "position": i, "note": n} for i, n in enumerate(notes)]
                conn.execute(sa.insert(flags), rows)

    def flagged(self, run_id: str) -> list[str]:
        query = sa.select(flags.c.note).where(flags.c.run_id == run_id).order_by(flags.c.position)
        with self._read() as conn:
            return [str(note) for note in conn.execute(query).scalars()]


def _row(entry: ProposalEntry) -> dict[str, Any]:
    row = asdict(entry)
    for name in ("proposed_at", "updated_at", "landed_at"):
        row[name] = None if row[name] is None else codec.utc(row[name])
    return row


def _entry(row: Any) -> ProposalEntry:
    fields = dict(row)
    fields.pop("seq", None)
    return ProposalEntry(**fields)
