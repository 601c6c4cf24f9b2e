"""Pull-request simulations and their reports in SQL, for any backend."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from reconciler import runstate
from reconciler.store import interfaces
from reconciler.store.sql import rows, schema

Connect = AbstractContextManager[sa.Connection]
_IDS: sa.BindParameter[Any] = sa.bindparam("ids", expanding=True)
_CANCEL = (  # built once, as `_END_RUNS`: a flood runs them with nearly every delivery
    sa.update(schema.simulations)
    .where(schema.simulations.c.id.in_(_IDS))
    .values(
        status=interfaces.SimulationStatus.CANCELLED.value,
        summary=sa.bindparam("summary"),
        finished_at=sa.bindparam("at"),
    )
    .returning(*schema.simulations.c)
)
_END_RUNS = (
    sa.update(schema.runs)
    .where(schema.runs.c.id.in_(_IDS))
    .values(status=runstate.RunStatus.CANCELLED.value, finished_at=sa.bindparam("at"), error=None)
)


class SimulationsMixin:
    """`interfaces.Simulations` for any SQLAlchemy store with `_write()`, `_read()`,
    `_upsert()`, `_byte_length()` and, from `RunsMixin`, `_put_run()`."""

    _write: Callable[[], Connect]  # provided by the store
    _read: Callable[[], Connect]
    _upsert: Callable[[sa.Table], Any]
    _byte_length: Callable[[Any], Any]
    _put_run: Callable[[sa.Connection, runstate.RunRecord], None]

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
        reason at `at`, and end its run cancelled as `runstate.finished` does (status, when,
        no error; its steps kept), in `conn`'s transaction; the records as stored. Updates
        in place, a statement per reason, rather than rewriting whole records: a flood of
        deliveries cancels one simulation with nearly every submission."""
        by_reason: dict[str, list[str]] = {}
        for sim_id, reason in why:
            by_reason.setdefault(reason, []).append(sim_id)
        found: dict[str, interfaces.SimulationRecord] = {}
        for reason, ids in by_reason.items():
            for chunk in _chunks(ids):
                done = conn.execute(_CANCEL, {"ids": chunk, "summary": reason, "at": at})
                found.update((r["id"], rows.simulation_from_row(r)) for r in done.mappings())
                conn.execute(_END_RUNS, {"ids": chunk, "at": at})
        return [found[sim_id] for sim_id, _ in why]

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
