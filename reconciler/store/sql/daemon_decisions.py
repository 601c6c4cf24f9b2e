"""The table and queries behind `daemon_decisions.DaemonDecisions`, for any SQL store."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Any

import sqlalchemy as sa

from reconciler.store import codec
from reconciler.store.daemon_decisions import SETTLED, DecisionEntry
from reconciler.store.sql import schema

table = sa.Table(
    "daemon_decisions",
    schema.metadata,
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("id", sa.String, nullable=False, unique=True),
    sa.Column("at", schema.UtcDateTime, nullable=False, index=True),
    sa.Column("type", sa.String, nullable=False),
    sa.Column("subject", sa.String, nullable=False, index=True),
    sa.Column("bucket", sa.String, nullable=False),
    sa.Column("option", sa.String, nullable=True),
    sa.Column("level", sa.String, nullable=False),
    sa.Column("confidence", sa.Float, nullable=False),
    sa.Column("outcome", sa.String, nullable=False, index=True),
    sa.Column("run_id", sa.String, nullable=True, index=True),
    sa.Column("record", sa.JSON, nullable=False),
    sa.Index("ix_daemon_decisions_evidence", "bucket", "option", "outcome"),
    sqlite_autoincrement=True,
)


Connect = AbstractContextManager[sa.Connection]


class DaemonDecisionsMixin:
    """`DaemonDecisions` for any SQLAlchemy store with `_write()` and `_read()`."""

    _write: Callable[[], Connect]  # provided by the store
    _read: Callable[[], Connect]

    def put_daemon_decision(self, entry: DecisionEntry) -> None:
        row = _row(entry)
        with self._write() as conn:
            done = conn.execute(sa.update(table).where(table.c.id == entry.id).values(row))
            if not done.rowcount:
                conn.execute(sa.insert(table).values(row))

    def add_daemon_decisions(self, entries: Iterable[DecisionEntry]) -> int:
        rows = [_row(e) for e in entries]
        if rows:
            with self._write() as conn:
                conn.execute(sa.insert(table), rows)
        return len(rows)

    def get_daemon_decision(self, decision_id: str) -> DecisionEntry | None:
        with self._read() as conn:
            found = conn.execute(sa.select(table).where(table.c.id == decision_id)).mappings()
            return next((_entry(r) for r in found), None)

    def daemon_decisions(
        self,
        *,
        type: str | None = None,
        subject: str | None = None,
        outcome: str | None = None,
        run_id: str | None = None,
        limit: int = 100,
    ) -> list[DecisionEntry]:
        query = sa.select(table).order_by(table.c.seq.desc()).limit(limit)
        wanted = {"type": type, "subject": subject, "outcome": outcome, "run_id": run_id}
        for column, value in wanted.items():
            if value is not None:
                query = query.where(table.c[column] == value)
        with self._read() as conn:
            return [_entry(r) for r in conn.execute(query).mappings()]

    def outcome_counts(self, bucket: str, options: Sequence[str]) -> dict[str, tuple[float, float]]:
        query = (
            sa.select(table.c.option, table.c.outcome, sa.func.count())
            .where(table.c.bucket == bucket, table.c.outcome.in_(SETTLED))
            .where(table.c.option.in_(list(options)))
            .group_by(table.c.option, table.c.outcome)
        )
        counts: dict[str, list[float]] = {}
        with self._read() as conn:
            for option, outcome, n in conn.execute(query):
                counts.setdefault(option, [0.0, 0.0])[SETTLED.index(outcome)] += n
        return {o: (c[0], c[1]) for o, c in counts.items()}


def _row(entry: DecisionEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": codec.utc(entry.at),
        "type": entry.type,
        "subject": entry.subject,
        "bucket": entry.bucket,
        "option": entry.option,
        "level": entry.level,
        "confidence": entry.confidence,
        "outcome": entry.outcome,
        "run_id": entry.run_id,
        "record": entry.record,
    }


def _entry(row: Any) -> DecisionEntry:
    fields = dict(row)
    fields.pop("seq", None)
    return DecisionEntry(**fields)
