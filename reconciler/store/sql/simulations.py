"""Pull-request simulations and their reports in SQL, for any backend."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from reconciler import runstate
from reconciler.store import interfaces
from reconciler.store.sql import rows, schema

Connect = AbstractContextManager[sa.Connection]


class SimulationsMixin:
    """`interfaces.Simulations` for any SQLAlchemy store with `_write()`, `_read()`,
    `_upsert()`, `_byte_length()` and, from `RunsMixin`, `_put_run()` and `_runs_of()`."""

    _write: Callable[[], Connect]  # provided by the store
    _read: Callable[[], Connect]
    _upsert: Callable[[sa.Table], Any]
    _byte_length: Callable[[Any], Any]
    _put_run: Callable[[sa.Connection, runstate.RunRecord], None]
    _runs_of: Callable[[sa.Connection, sa.Select[Any]], list[runstate.RunRecord]]

    def put_simulation(self, simulation: interfaces.SimulationRecord) -> None:
        with self._write() as conn:
            self._put_simulation(conn, simulation)

    def record_simulation(
        self, simulation: interfaces.SimulationRecord, *, run: runstate.RunRecord
    ) -> None:
        with self._write() as conn:
            self._put_simulation(conn, simulation)
            self._put_run(conn, run)

    def _put_simulation(self, conn: sa.Connection, simulation: interfaces.SimulationRecord) -> None:
        row = rows.simulation_row(simulation)
        upsert = self._upsert(schema.simulations).values(row)
        upsert = upsert.on_conflict_do_update(
            index_elements=["id"], set_={k: v for k, v in row.items() if k != "id"}
        )
        conn.execute(upsert)

    def _cancel_simulations(
        self, conn: sa.Connection, why: Sequence[tuple[str, str]], *, at: datetime
    ) -> list[interfaces.SimulationRecord]:
        """Store each simulation of `why` (its id, and the reason) `cancelled` for that
        reason at `at`, with its run, in `conn`'s transaction; the records as stored."""
        table, runs = schema.simulations, schema.runs
        found: dict[str, interfaces.SimulationRecord] = {}
        ended: dict[str, runstate.RunRecord] = {}
        for chunk in _chunks([sim_id for sim_id, _ in why]):
            query = sa.select(table).where(table.c.id.in_(chunk))
            found.update(
                (r["id"], rows.simulation_from_row(r)) for r in conn.execute(query).mappings()
            )
            ended.update(
                (r.id, r) for r in self._runs_of(conn, sa.select(runs).where(runs.c.id.in_(chunk)))
            )
        cancelled = []
        for sim_id, reason in why:
            record = replace(
                found[sim_id],
                status=interfaces.SimulationStatus.CANCELLED,
                summary=reason,
                finished_at=at,
            )
            self._put_simulation(conn, record)
            if sim_id in ended:
                status = runstate.RunStatus.CANCELLED
                self._put_run(
                    conn, runstate.finished(ended[sim_id], status=status, at=at, steps=())
                )
            cancelled.append(record)
        return cancelled

    def get_simulation(self, simulation_id: str) -> interfaces.SimulationRecord | None:
        table = schema.simulations
        with self._read() as conn:
            row = conn.execute(sa.select(table).where(table.c.id == simulation_id)).first()
        return None if row is None else rows.simulation_from_row(row._mapping)

    def list_simulations(
        self,
        *,
        source: str | None = None,
        number: int | None = None,
        status: interfaces.SimulationStatus | None = None,
        limit: int = 100,
    ) -> list[interfaces.SimulationRecord]:
        table = schema.simulations
        query = (
            sa.select(table).order_by(table.c.created_at.desc(), table.c.seq.desc()).limit(limit)
        )
        if source is not None:
            query = query.where(table.c.source == source)
        if number is not None:
            query = query.where(table.c.number == number)
        if status is not None:
            query = query.where(table.c.status == status.value)
        with self._read() as conn:
            return [rows.simulation_from_row(r) for r in conn.execute(query).mappings().all()]

    def trim_simulation_reports(self, *, max_bytes: int) -> int:
        table = schema.simulations
        size = self._byte_length(table.c.markdown) + sa.func.coalesce(
            self._byte_length(table.c.report), 0
        )
        query = (
            sa.select(table.c.seq, size)
            .where(table.c.status.in_([s.value for s in interfaces.SIMULATION_FINISHED]))
            .where(table.c.report.is_not(None) | (sa.cast(table.c.markdown, sa.Text) != "[]"))
            .order_by(table.c.created_at.desc(), table.c.seq.desc())
        )
        with self._write() as conn:
            total, over = 0, []
            for seq, bytes_ in conn.execute(query):
                total += bytes_
                if total > max_bytes:
                    over.append(seq)
            for chunk in _chunks(over):
                conn.execute(
                    sa.update(table)
                    .where(table.c.seq.in_(chunk))
                    .values(report=sa.null(), markdown=[])
                )
        return len(over)


def _chunks(items: Sequence[Any], size: int = 500) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
