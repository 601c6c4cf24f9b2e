"""The table and queries behind `runqueue.RunQueue`, for any SQL store.

One table holds every kind of queued work (`kind`, with the job's parameters in `payload`
where the run record does not carry them: a simulation's). A claim is judged in the
database: a row is free when it has no claimer, or when no live `replica:<claimer>` lease
carries the token it was claimed with (the `leases` table of `sql.leases`). The rows are
read `FOR UPDATE SKIP LOCKED` (PostgreSQL; SQLite has one writer at a time), so two
claimers racing for the same runs split them; no store-wide lock is needed (a run id is
unique, and a claim only changes rows it locked). Only `enqueue_once`, which reads what it
then decides on, and `enqueue_simulation`, which writes a simulation record and, bounding
what waits (`runqueue.superseded`), reads the simulations queued for the source before it
cancels some, take the serial lock. Submitters of one source therefore count and cancel
one after another, each seeing what the one before committed; the rows a submitter
cancels are locked `FOR UPDATE` first, so a claimer (which takes no serial lock) either
locked a row before it — the submitter waits, and PostgreSQL re-reads the row, now claimed,
and leaves it alone — or skips it (`SKIP LOCKED`) until it is gone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from reconciler.runstate import RunRecord, RunStatus, finished
from reconciler.store import codec, interfaces, runqueue
from reconciler.store.leases import REPLICA, Fence, LeaseLost
from reconciler.store.runqueue import RUN, QueuedRun
from reconciler.store.sql import leases as sql_leases
from reconciler.store.sql import locks, schema

table = sa.Table(
    "run_queue",
    schema.metadata,
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.String, nullable=False, unique=True),
    sa.Column("target", sa.String, nullable=False, index=True),
    sa.Column("queued_at", schema.UtcDateTime, nullable=False),
    sa.Column("kind", sa.String, nullable=False, server_default=RUN),
    sa.Column("payload", sa.JSON, nullable=True),
    sa.Column("claimed_by", sa.String, nullable=True),
    sa.Column("claim_token", sa.Integer, nullable=True),
    sa.Column("claimed_at", schema.UtcDateTime, nullable=True),
    sqlite_autoincrement=True,
)

Connect = AbstractContextManager[sa.Connection]
_CHUNK = 500  # run ids per `IN (...)`: well under SQLite's limit on bound parameters
_COLUMNS = (
    "run_id",
    "target",
    "queued_at",
    "kind",
    "payload",
    "claimed_by",
    "claim_token",
    "claimed_at",
)


def _queued(row: Any) -> QueuedRun:
    return QueuedRun(**{c: row[c] for c in _COLUMNS})


def _check_own_lease(conn: sa.Connection, holder: str, *, token: int, now: datetime) -> None:
    fence = Fence(name=REPLICA + holder, token=token)
    lease = sql_leases.table
    found = conn.execute(
        sa.select(lease.c.holder, lease.c.token, lease.c.expires_at).where(
            lease.c.name == fence.name
        )
    ).first()
    if found is None or codec.utc(found.expires_at) <= now:
        raise LeaseLost(fence, now_token=None, holder=None)  # expired: nobody holds it
    if found.token != token:
        raise LeaseLost(fence, now_token=found.token, holder=found.holder)


_sims = schema.simulations
_WAITING = (  # built once: every submission on a shared store runs it
    sa.select(table.c.run_id, _sims.c.source, _sims.c.forge, _sims.c.number)
    .join_from(table, _sims, _sims.c.id == table.c.run_id)
    .where(
        table.c.kind == runqueue.SIMULATION,
        table.c.target == sa.bindparam("target"),
        table.c.claimed_by.is_(None),
        _sims.c.status.not_in(sorted(s.value for s in interfaces.SIMULATION_FINISHED)),
    )
    .order_by(table.c.seq)
    .with_for_update(of=table)
)
_DROP = sa.delete(table).where(table.c.run_id.in_(sa.bindparam("ids", expanding=True)))


def _waiting_simulations(
    conn: sa.Connection, target: str
) -> list[tuple[str, runqueue.PullRequest | None]]:
    """The simulations waiting for `target`, oldest first, each with its pull request:
    queued, claimed by nobody, not finished; their rows locked until the transaction ends."""
    return [
        (r.run_id, runqueue.pull_request(source=r.source, forge=r.forge, number=r.number))
        for r in conn.execute(_WAITING, {"target": target})
    ]


class RunQueueMixin:
    """`RunQueue` for any SQLAlchemy store with `_write()`, `_read()` and `_put_run()`."""

    _write: Callable[..., Connect]  # provided by the store
    _read: Callable[[], Connect]
    _put_run: Callable[[sa.Connection, RunRecord], None]
    _put_simulation: Callable[[sa.Connection, interfaces.SimulationRecord], None]
    _cancel_simulations: Callable[..., list[interfaces.SimulationRecord]]
    _runs_of: Callable[[sa.Connection, sa.Select[Any]], list[RunRecord]]

    def enqueue_run(self, run: RunRecord, *, target: str, at: datetime, kind: str = RUN) -> None:
        row = {"run_id": run.id, "target": target, "queued_at": codec.utc(at), "kind": kind}
        with self._write(lock=None) as conn:
            self._put_run(conn, run)
            conn.execute(sa.insert(table).values(row))

    def enqueue_once(
        self, run: RunRecord, *, target: str, at: datetime, since: datetime | None = None
    ) -> bool:
        runs, kind = schema.runs, run.kind.value
        queued = sa.select(table.c.run_id).where(table.c.kind == kind, table.c.target == target)
        checks = [queued]
        if since is not None:
            started = runs.c.started_at >= codec.utc(since)
            checks.append(
                sa.select(runs.c.id).where(runs.c.kind == kind, runs.c.name == run.name, started)
            )
        row = {"run_id": run.id, "target": target, "queued_at": codec.utc(at), "kind": kind}
        with self._read() as conn:  # mostly not due: decided without the serial lock
            if any(conn.execute(check.limit(1)).first() for check in checks):
                return False
        with self._write(lock=locks.SERIAL) as conn:  # due: checked again, under the lock
            if any(conn.execute(check.limit(1)).first() for check in checks):
                return False
            self._put_run(conn, run)
            conn.execute(sa.insert(table).values(row))
            return True

    def enqueue_simulation(
        self,
        simulation: interfaces.SimulationRecord,
        *,
        run: RunRecord,
        target: str,
        payload: dict[str, Any],
        at: datetime,
        most: int | None = None,
    ) -> list[interfaces.SimulationRecord]:
        row = {
            "run_id": run.id,
            "target": target,
            "queued_at": codec.utc(at),
            "kind": run.kind.value,
            "payload": payload,
        }
        with self._write() as conn:  # the serial lock (see the module docstring)
            waiting = [] if most is None else _waiting_simulations(conn, target)
            self._put_simulation(conn, simulation)
            self._put_run(conn, run)
            conn.execute(sa.insert(table).values(row))
            if most is None:
                return []
            key = runqueue.pull_request(
                source=simulation.source, forge=simulation.forge, number=simulation.number
            )
            pushed = runqueue.superseded(waiting, new=(simulation.id, key), most=most)
            for start in range(0, len(pushed), _CHUNK):
                gone = [sim_id for sim_id, _ in pushed[start : start + _CHUNK]]
                conn.execute(_DROP, {"ids": gone})
            return self._cancel_simulations(conn, pushed, at=codec.utc(at))

    def claim_runs(
        self,
        holder: str,
        *,
        token: int,
        targets: Iterable[str],
        now: datetime,
        limit: int = 100,
        kind: str = RUN,
    ) -> list[QueuedRun]:
        chosen = sorted(set(targets))
        now = codec.utc(now)
        lease = sql_leases.table
        claimer_live = (
            sa.select(lease.c.name)
            .where(
                lease.c.name == sa.literal(REPLICA) + table.c.claimed_by,
                lease.c.token == table.c.claim_token,
                lease.c.expires_at > now,
            )
            .exists()
        )
        query = (
            sa.select(table)
            .where(
                table.c.kind == kind,
                table.c.target.in_(chosen),
                table.c.claimed_by.is_(None) | ~claimer_live,
            )
            .order_by(table.c.seq)
            .limit(limit)
            .with_for_update(skip_locked=True, of=table)
        )
        with self._write(lock=None) as conn:
            _check_own_lease(conn, holder, token=token, now=now)
            if not chosen:
                return []
            found = [_queued(r) for r in conn.execute(query).mappings()]
            if not found:
                return []
            conn.execute(
                sa.update(table)
                .where(table.c.run_id.in_([q.run_id for q in found]))
                .values(claimed_by=holder, claim_token=token, claimed_at=now)
            )
        return [replace(q, claimed_by=holder, claim_token=token, claimed_at=now) for q in found]

    def finish_run(self, run_id: str, holder: str, *, token: int) -> bool:
        delete = sa.delete(table).where(
            table.c.run_id == run_id, table.c.claimed_by == holder, table.c.claim_token == token
        )
        with self._write(lock=None) as conn:
            return conn.execute(delete).rowcount == 1

    def release_runs(self, holder: str, *, kind: str = RUN) -> int:
        update = (
            sa.update(table)
            .where(table.c.claimed_by == holder, table.c.kind == kind)
            .values(claimed_by=None, claim_token=None, claimed_at=None)
        )
        with self._write(lock=None) as conn:
            return int(conn.execute(update).rowcount)

    def cancel_unclaimed(self, run_id: str, *, at: datetime) -> RunRecord | None:
        # SKIP LOCKED: a row a claimer has locked is being claimed, so it is not ours to cancel.
        free = (
            sa.select(table.c.run_id)
            .where(table.c.run_id == run_id, table.c.kind == RUN, table.c.claimed_by.is_(None))
            .with_for_update(skip_locked=True)
        )
        with self._write(lock=None) as conn:
            if conn.execute(free).first() is None:
                return None
            found = self._runs_of(conn, sa.select(schema.runs).where(schema.runs.c.id == run_id))
            if not found:  # never so: a run is recorded with its queue row (`enqueue_run`)
                return None
            run = found[0]
            closed = finished(run, status=RunStatus.CANCELLED, at=at, error=run.error)
            self._put_run(conn, replace(closed, steps=()))  # its steps are kept
            conn.execute(sa.delete(table).where(table.c.run_id == run_id))
            return closed

    def queued_runs(self, *, kind: str | None = None) -> list[QueuedRun]:
        query = sa.select(table).order_by(table.c.seq)
        if kind is not None:
            query = query.where(table.c.kind == kind)
        with self._read() as conn:
            found = conn.execute(query).mappings()
            return [_queued(r) for r in found]

    def queued_run(self, run_id: str) -> QueuedRun | None:
        with self._read() as conn:
            found = conn.execute(sa.select(table).where(table.c.run_id == run_id)).mappings()
            row = found.first()
            return None if row is None else _queued(row)
