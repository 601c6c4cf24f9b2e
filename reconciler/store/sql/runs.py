"""Runs and their step attempts in SQL, for any backend."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any

import sqlalchemy as sa

from reconciler import runstate
from reconciler.store import interfaces
from reconciler.store.sql import rows, schema

Connect = AbstractContextManager[sa.Connection]
_CHUNK = 500  # run ids per `IN (...)`: well under SQLite's limit on bound parameters


class RunsMixin:
    """`interfaces.Runs` for any SQLAlchemy store with `_write()`, `_read()` and
    `_upsert()`."""

    _write: Callable[..., Connect]  # provided by the store
    _read: Callable[[], Connect]
    _upsert: Callable[[sa.Table], Any]

    def create_run(self, run: runstate.RunRecord) -> None:
        with self._write(lock=None) as conn:  # a run id is unique (the insert fails)
            if self._run_exists(conn, run.id):
                raise interfaces.RunExists(run.id)
            conn.execute(sa.insert(schema.runs).values(rows.run_row(run)))
            self._upsert_steps(conn, run.id, run.steps)

    def update_run(self, run: runstate.RunRecord) -> None:
        table = schema.runs
        with self._write(lock=None) as conn:  # the run's writer's rows
            updated = conn.execute(
                sa.update(table).where(table.c.id == run.id).values(rows.run_row(run))
            )
            if updated.rowcount == 0:
                raise interfaces.RunNotFound(run.id)
            self._upsert_steps(conn, run.id, run.steps)

    def update_step(self, run_id: str, step: runstate.StepRecord) -> None:
        with self._write(lock=None) as conn:
            if not self._run_exists(conn, run_id):
                raise interfaces.RunNotFound(run_id)
            self._upsert_steps(conn, run_id, (step,))

    @staticmethod
    def _run_exists(conn: sa.Connection, run_id: str) -> bool:
        query = sa.select(schema.runs.c.seq).where(schema.runs.c.id == run_id)
        return conn.execute(query).first() is not None

    def _upsert_steps(
        self, conn: sa.Connection, run_id: str, steps: Iterable[runstate.StepRecord]
    ) -> None:
        step_rows = [rows.step_row(run_id, step) for step in steps]
        if not step_rows:
            return
        stmt = self._upsert(schema.run_steps)
        keep = ("run_id", "name", "attempt", "id")
        columns = {
            c.name: stmt.excluded[c.name] for c in schema.run_steps.columns if c.name not in keep
        }
        conn.execute(
            stmt.on_conflict_do_update(index_elements=["run_id", "name", "attempt"], set_=columns),
            step_rows,
        )

    def get_run(self, run_id: str) -> runstate.RunRecord | None:
        found = self._load_runs(sa.select(schema.runs).where(schema.runs.c.id == run_id))
        return found[0] if found else None

    def list_runs(
        self,
        *,
        kind: runstate.RunKind | None = None,
        status: runstate.RunStatus | None = None,
        limit: int = 100,
    ) -> list[runstate.RunRecord]:
        table = schema.runs
        query = sa.select(table).order_by(table.c.seq.desc()).limit(limit)
        if kind is not None:
            query = query.where(table.c.kind == kind.value)
        if status is not None:
            query = query.where(table.c.status == status.value)
        return self._load_runs(query)

    def waiting_runs(self, *, limit: int = 1000) -> list[runstate.RunRecord]:
        # Found from the few unfinished runs (by the status index), then their waiting
        # steps by run id: never a scan of every step attempt kept, which a join on the
        # steps' status becomes on PostgreSQL.
        table, steps = schema.runs, schema.run_steps
        unfinished = [s.value for s in runstate.RunStatus if s not in runstate.FINISHED]
        with self._read() as conn:
            ids = (
                conn.execute(
                    sa.select(table.c.id)
                    .where(table.c.status.in_(unfinished))
                    .order_by(table.c.seq)
                )
                .scalars()
                .all()
            )
            chosen: list[str] = []
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                waiting = set(
                    conn.execute(
                        sa.select(steps.c.run_id)
                        .where(
                            steps.c.run_id.in_(chunk),
                            steps.c.status == runstate.StepStatus.WAITING.value,
                        )
                        .distinct()
                    ).scalars()
                )
                chosen += [run_id for run_id in chunk if run_id in waiting]
            found = chosen[:limit]
            query = sa.select(table).where(table.c.id.in_(found)).order_by(table.c.seq)
            return self._runs_of(conn, query)

    def _load_runs(self, query: sa.Select[Any]) -> list[runstate.RunRecord]:
        with self._read() as conn:
            return self._runs_of(conn, query)

    @staticmethod
    def _runs_of(conn: sa.Connection, query: sa.Select[Any]) -> list[runstate.RunRecord]:
        """The runs `query` selects, with their steps, read in `conn`'s transaction."""
        steps = schema.run_steps
        run_rows = conn.execute(query).mappings().all()
        ids = [r["id"] for r in run_rows]
        step_query = sa.select(steps).where(steps.c.run_id.in_(ids)).order_by(steps.c.id)
        by_run: dict[str, list[runstate.StepRecord]] = {run_id: [] for run_id in ids}
        for r in conn.execute(step_query):
            by_run[r.run_id].append(rows.step_from_row(r._mapping))
        return [rows.run_from_row(r, by_run[r["id"]]) for r in run_rows]

    def _put_run(self, conn: sa.Connection, run: runstate.RunRecord) -> None:
        """Insert `run`, or overwrite its fields; then upsert the steps it carries."""
        table = schema.runs
        row = rows.run_row(run)
        if conn.execute(sa.update(table).where(table.c.id == run.id).values(row)).rowcount == 0:
            conn.execute(sa.insert(table).values(row))
        self._upsert_steps(conn, run.id, run.steps)
