"""The store over any SQL database SQLAlchemy reaches: every query a backend shares.

`SqlStore` takes an Engine and implements each role of `interfaces.Store` with SQLAlchemy
Core, one transaction per call: a connection is checked out of the engine's pool, so the
store is safe to share between threads and a process killed mid-write leaves the last
committed state. A backend subclass creates the engine and supplies what its dialect spells
its own way: `_upsert(table)`, an INSERT that takes ON CONFLICT (SQLite's and PostgreSQL's
dialects both have one), `_epoch_seconds(column)` and, where a cast to bytes does not do,
`_byte_length(column)`. Writes carry the `WRITE` execution option so a
backend can open them differently (SQLite: `BEGIN IMMEDIATE`), and `locks.OPTION`, the
name of what they serialise on: `locks.SERIAL` unless a write says otherwise — a single
statement that decides in the database (an upsert, a guarded update, a claim), or rows
only the fenced owner of a source writes, needs none. SQLite has one writer at a time
anyway; PostgreSQL takes the named lock as a transaction-scoped advisory lock. A view made by
`fenced(fence)` shares the engine and first checks, inside each write transaction, that
the lease of `fence()` still carries its token (`sql.leases.check_fence`). Inside
`batch()`, the writes a thread makes join that one transaction instead of each committing
its own: a pass writes a wave's decisions and intents, or its statuses and run, at once;
a batch holds the serial lock, so whatever the writes joining it need is held.
"""

from __future__ import annotations

import contextlib
import copy
import threading
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from reconciler.conditions import ConditionStatus
from reconciler.source.revision import Revision
from reconciler.store import audit as audit_records
from reconciler.store import codec, interfaces, leases
from reconciler.store.retention import RetentionReport, RetentionSettings
from reconciler.store.sql import audit, locks, pruning, rows, schema
from reconciler.store.sql import leases as sql_leases
from reconciler.store.sql.children import ChildrenMixin
from reconciler.store.sql.daemon_decisions import DaemonDecisionsMixin
from reconciler.store.sql.decision_log import DecisionLogMixin
from reconciler.store.sql.deliveries import DeliveriesMixin
from reconciler.store.sql.intents import IntentsMixin
from reconciler.store.sql.learners import LearnersMixin
from reconciler.store.sql.leases import LeasesMixin
from reconciler.store.sql.outbox import OutboxMixin
from reconciler.store.sql.proposals import ProposalsMixin
from reconciler.store.sql.queue import QueueMixin
from reconciler.store.sql.runqueue import RunQueueMixin
from reconciler.store.sql.runs import RunsMixin
from reconciler.store.sql.simulations import SimulationsMixin

WRITE = "reconciler_write"
"""The execution option set on a write transaction's connection before it begins."""


class SqlStore(
    RunsMixin,
    SimulationsMixin,
    DecisionLogMixin,
    ChildrenMixin,
    DaemonDecisionsMixin,
    DeliveriesMixin,
    IntentsMixin,
    audit.AuditLogMixin,
    LearnersMixin,
    LeasesMixin,
    OutboxMixin,
    ProposalsMixin,
    QueueMixin,
    RunQueueMixin,
):
    """`interfaces.Store` over `engine`; `where` names the database in errors."""

    def __init__(self, engine: sa.Engine, *, retention: RetentionSettings, where: str) -> None:
        self.retention = retention
        self.where = where
        self._engine = engine
        self._closed = False
        self._fence: leases.FenceSource = _unfenced
        self._batch = threading.local()  # .conn: the transaction of this thread's batch

    def fenced(self, fence: leases.FenceSource) -> SqlStore:
        """A view of this store (the same engine) whose writes check `fence()` first."""
        view = copy.copy(self)
        view._fence = fence
        view._batch = threading.local()  # its batches check its fence
        return view

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Make this thread's writes until the block ends one transaction (committed at its
        end, rolled back by an exception); inside a batch already, join that one."""
        if getattr(self._batch, "conn", None) is not None:
            yield
            return
        with self._write() as conn:
            self._batch.conn = conn
            try:
                yield
            finally:
                self._batch.conn = None

    def _upsert(self, table: sa.Table) -> Any:
        """An INSERT into `table` that takes `on_conflict_do_update/nothing`."""
        raise NotImplementedError

    def _epoch_seconds(self, column: Any) -> Any:
        """A timestamp column as whole seconds since the epoch, in SQL."""
        raise NotImplementedError

    def _byte_length(self, column: Any) -> Any:
        """The size in bytes of a text or JSON column's value, in SQL."""
        return sa.func.length(sa.cast(column, sa.LargeBinary))

    @contextlib.contextmanager
    def _write(
        self, *, doing: str = "write", lock: str | None = locks.SERIAL
    ) -> Iterator[sa.Connection]:
        joined: sa.Connection | None = getattr(self._batch, "conn", None)
        if joined is not None:  # a batch holds the serial lock: whatever this one needs
            yield joined
            return
        with self._unavailable(doing), self._connect() as conn:
            conn.execution_options(**{WRITE: True, locks.OPTION: lock})
            with conn.begin():
                fence = self._fence()
                if fence is not None:
                    sql_leases.check_fence(conn, fence)
                yield conn

    @contextlib.contextmanager
    def _unavailable(self, doing: str) -> Iterator[None]:
        """Full disk, read-only file, I/O error or a server gone (OperationalError), or
        "file is not a database", as `StoreUnavailable`; constraint and programming errors
        are bugs and stay what they are."""
        try:
            yield
        except sa.exc.DatabaseError as exc:
            if type(exc) not in (sa.exc.OperationalError, sa.exc.DatabaseError):
                raise
            raise interfaces.StoreUnavailable(
                f"{self.where}: cannot {doing} the database: {exc.orig}"
            ) from exc

    def probe_write(self, *, at: datetime) -> None:
        """Write the one heartbeat row: cheap proof that the store still takes writes."""
        with self._write(lock=None) as conn:
            conn.execute(sa.delete(schema.heartbeat))
            conn.execute(sa.insert(schema.heartbeat).values(at=at))

    @contextlib.contextmanager
    def _read(self) -> Iterator[sa.Connection]:
        with self._unavailable("read"), self._connect() as conn, conn.begin():
            yield conn

    def _connect(self) -> sa.Connection:
        if self._closed:
            raise interfaces.StoreError(f"{self.where}: the store is closed")
        return self._engine.connect()

    def close(self) -> None:
        self._closed = True
        self._engine.dispose()

    # revisions

    def record_revision(self, source: str, revision: Revision) -> None:
        table = schema.revisions
        row = rows.revision_row(source, revision)
        with self._write(lock=None) as conn:  # the source's owner's rows
            conn.execute(
                sa.delete(table).where(table.c.source == source, table.c.sha == revision.sha)
            )
            conn.execute(sa.insert(table).values(row))

    def revisions(self, source: str, limit: int = 20) -> list[Revision]:
        table = schema.revisions
        query = (
            sa.select(table)
            .where(table.c.source == source)
            .order_by(table.c.seq.desc())
            .limit(limit)
        )
        with self._read() as conn:
            return [rows.revision_from_row(r) for r in conn.execute(query).mappings().all()]

    # object status

    def put_status(self, status: interfaces.ObjectStatus) -> None:
        row = rows.status_row(status, history_limit=self.retention.history_per_object)
        upsert = self._upsert(schema.object_status).values(row)
        upsert = upsert.on_conflict_do_update(
            index_elements=["key"], set_={k: v for k, v in row.items() if k != "key"}
        )
        conditions = schema.object_conditions
        with self._write(lock=None) as conn:  # an upsert; an object's owner's rows
            conn.execute(upsert)
            conn.execute(sa.delete(conditions).where(conditions.c.key == status.key))
            if status.conditions:
                conn.execute(sa.insert(conditions), rows.condition_rows(status))

    def put_statuses(self, statuses: Iterable[interfaces.ObjectStatus]) -> int:
        chosen = {s.key: s for s in statuses}  # the last one of a key wins, as with put_status
        if not chosen:
            return 0
        limit = self.retention.history_per_object
        status_rows = [rows.status_row(s, history_limit=limit) for s in chosen.values()]
        stmt = self._upsert(schema.object_status)
        changed = {c: stmt.excluded[c] for c in status_rows[0] if c != "key"}
        upsert = stmt.on_conflict_do_update(index_elements=["key"], set_=changed)
        conditions = schema.object_conditions
        condition_rows = [r for s in chosen.values() for r in rows.condition_rows(s)]
        with self._write(lock=None) as conn:  # upserts; the objects' owner's rows
            conn.execute(upsert, status_rows)
            conn.execute(
                sa.delete(conditions).where(conditions.c.key == sa.bindparam("k")),
                [{"k": key} for key in chosen],
            )
            if condition_rows:
                conn.execute(sa.insert(conditions), condition_rows)
        return len(chosen)

    def get_status(self, key: str) -> interfaces.ObjectStatus | None:
        table = schema.object_status
        with self._read() as conn:
            row = conn.execute(sa.select(table).where(table.c.key == key)).first()
        return None if row is None else rows.status_from_row(row._mapping)

    def list_status(
        self,
        *,
        source: str | None = None,
        condition: str | None = None,
        condition_status: ConditionStatus = ConditionStatus.TRUE,
    ) -> list[interfaces.ObjectStatus]:
        table, conditions = schema.object_status, schema.object_conditions
        query = sa.select(table).order_by(table.c.key)
        if source is not None:
            query = query.where(table.c.source == source)
        if condition is not None:
            query = query.where(
                sa.exists().where(
                    conditions.c.key == table.c.key,
                    conditions.c.type == condition,
                    conditions.c.status == condition_status.value,
                )
            )
        with self._read() as conn:
            return [rows.status_from_row(r) for r in conn.execute(query).mappings().all()]

    def delete_status(self, key: str) -> bool:
        with self._write() as conn:
            deleted = conn.execute(
                sa.delete(schema.object_status).where(schema.object_status.c.key == key)
            )
            current = schema.current_decisions
            conn.execute(sa.delete(current).where(current.c.key == key))
        return deleted.rowcount > 0

    # events

    def append_event(self, event: interfaces.EventRecord) -> interfaces.EventRecord:
        row = rows.event_row(event)
        chained = audit_records.audited(event.type, event.data)
        with self._write(lock=locks.SERIAL if chained else None) as conn:
            result = conn.execute(sa.insert(schema.events).values(row))
            (event_id,) = result.inserted_primary_key or (None,)
            audit.append(conn, event)  # same transaction: an audited event is chained
        return interfaces.EventRecord(
            id=event_id,
            at=codec.utc(event.at),
            type=event.type,
            object_key=event.object_key,
            message=event.message,
            data=dict(event.data),
        )

    def events(self, *, since_id: int = 0, limit: int = 100) -> list[interfaces.EventRecord]:
        table = schema.events
        query = sa.select(table).where(table.c.id > since_id).order_by(table.c.id).limit(limit)
        with self._read() as conn:
            return [rows.event_from_row(r) for r in conn.execute(query).mappings().all()]

    # retention

    def apply_retention(self, *, now: datetime) -> RetentionReport:
        with self._write() as conn:
            return pruning.apply(conn, settings=self.retention, now=now)


def _unfenced() -> leases.Fence | None:
    return None
