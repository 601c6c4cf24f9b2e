"""The default store: one SQLite file in WAL mode, reached through SQLAlchemy Core.

Each call checks a connection out of the engine's pool and runs in its own transaction, so
the store is safe to share between threads and a process killed mid-write leaves the last
committed state. Writes open with `BEGIN IMMEDIATE`: SQLite then queues writers on the busy
timeout instead of failing one of two transactions that both read before writing. The
driver's own implicit transactions are switched off so those BEGINs are ours alone.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from reconciler.conditions import ConditionStatus
from reconciler.policy.decisions import Decision, Outcome
from reconciler.source.revision import Revision
from reconciler.store import audit_sql, base, codec, rows, schema
from reconciler.store.children_sql import ChildrenMixin
from reconciler.store.daemon_decisions_sql import DaemonDecisionsMixin
from reconciler.store.deliveries_sql import DeliveriesMixin
from reconciler.store.intents_sql import IntentsMixin
from reconciler.store.learners_sql import LearnersMixin
from reconciler.store.outbox_sql import OutboxMixin
from reconciler.store.retention import RetentionReport, RetentionSettings

_WRITE = "reconciler_write"


def _pragmas(dbapi_connection: sqlite3.Connection, *, busy_timeout_ms: int) -> None:
    dbapi_connection.isolation_level = None  # no implicit BEGIN from the driver
    cursor = dbapi_connection.cursor()
    for pragma in (
        "journal_mode=WAL",
        "synchronous=NORMAL",
        "foreign_keys=ON",
        f"busy_timeout={busy_timeout_ms}",
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _on_begin(connection: sa.Connection) -> None:
    write = connection.get_execution_options().get(_WRITE, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


class SqliteStore(
    ChildrenMixin,
    DaemonDecisionsMixin,
    DeliveriesMixin,
    IntentsMixin,
    audit_sql.AuditLogMixin,
    LearnersMixin,
    OutboxMixin,
):
    """`base.Store` in one SQLite file; see the module docstring."""

    def __init__(
        self, path: Path | str, *, retention: RetentionSettings, busy_timeout: float = 30.0
    ) -> None:
        self.path = Path(path)
        self.retention = retention
        self._closed = False
        self._engine = sa.create_engine(
            f"sqlite:///{self.path}",
            connect_args={"check_same_thread": False, "timeout": busy_timeout},
        )
        self._busy_timeout_ms = int(busy_timeout * 1000)
        sa.event.listen(self._engine, "connect", self._on_connect)
        sa.event.listen(self._engine, "begin", _on_begin)
        with self._write(doing="open") as conn:
            self.schema_version = schema.upgrade(
                conn, migrations=schema.MIGRATIONS, where=str(self.path)
            )
            schema.create_missing(conn)
            conn.exec_driver_sql("PRAGMA quick_check(1)")  # a corrupt file fails here

    def _on_connect(self, dbapi_connection: sqlite3.Connection, record: object) -> None:
        _pragmas(dbapi_connection, busy_timeout_ms=self._busy_timeout_ms)

    @contextlib.contextmanager
    def _write(self, *, doing: str = "write") -> Iterator[sa.Connection]:
        try:
            with self._connect() as conn:
                conn.execution_options(**{_WRITE: True})
                with conn.begin():
                    yield conn
        except sa.exc.DatabaseError as exc:
            # Full disk, read-only file, I/O error (OperationalError) or "file is not a
            # database"; constraint and programming errors are bugs and stay what they are.
            if type(exc) not in (sa.exc.OperationalError, sa.exc.DatabaseError):
                raise
            raise base.StoreUnavailable(
                f"{self.path}: cannot {doing} the database: {exc.orig}"
            ) from exc

    def probe_write(self, *, at: datetime) -> None:
        """Write the one heartbeat row: cheap proof that the store still takes writes."""
        with self._write() as conn:
            conn.execute(sa.delete(schema.heartbeat))
            conn.execute(sa.insert(schema.heartbeat).values(at=at))

    @contextlib.contextmanager
    def _read(self) -> Iterator[sa.Connection]:
        with self._connect() as conn, conn.begin():
            yield conn

    def _connect(self) -> sa.Connection:
        if self._closed:
            raise base.StoreError(f"{self.path}: the store is closed")
        return self._engine.connect()

    def close(self) -> None:
        self._closed = True
        self._engine.dispose()

    def integrity_check(self) -> list[str]:
        """SQLite's own consistency check; `["ok"]` for a sound file."""
        with self._read() as conn:
            return [row[0] for row in conn.exec_driver_sql("PRAGMA integrity_check")]

    # revisions

    def record_revision(self, source: str, revision: Revision) -> None:
        table = schema.revisions
        row = rows.revision_row(source, revision)
        with self._write() as conn:
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

    def put_status(self, status: base.ObjectStatus) -> None:
        row = rows.status_row(status, history_limit=self.retention.history_per_object)
        upsert = sqlite_insert(schema.object_status).values(row)
        upsert = upsert.on_conflict_do_update(
            index_elements=["key"], set_={k: v for k, v in row.items() if k != "key"}
        )
        conditions = schema.object_conditions
        with self._write() as conn:
            conn.execute(upsert)
            conn.execute(sa.delete(conditions).where(conditions.c.key == status.key))
            if status.conditions:
                conn.execute(sa.insert(conditions), rows.condition_rows(status))

    def put_statuses(self, statuses: Iterable[base.ObjectStatus]) -> int:
        chosen = {s.key: s for s in statuses}  # the last one of a key wins, as with put_status
        if not chosen:
            return 0
        limit = self.retention.history_per_object
        status_rows = [rows.status_row(s, history_limit=limit) for s in chosen.values()]
        stmt = sqlite_insert(schema.object_status)
        changed = {c: stmt.excluded[c] for c in status_rows[0] if c != "key"}
        upsert = stmt.on_conflict_do_update(index_elements=["key"], set_=changed)
        conditions = schema.object_conditions
        condition_rows = [r for s in chosen.values() for r in rows.condition_rows(s)]
        with self._write() as conn:
            conn.execute(upsert, status_rows)
            conn.execute(
                sa.delete(conditions).where(conditions.c.key == sa.bindparam("k")),
                [{"k": key} for key in chosen],
            )
            if condition_rows:
                conn.execute(sa.insert(conditions), condition_rows)
        return len(chosen)

    def get_status(self, key: str) -> base.ObjectStatus | None:
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
    ) -> list[base.ObjectStatus]:
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

    # decisions

    def append_decisions(
        self,
        decisions: Iterable[Decision],
        *,
        inputs: Mapping[str, str] | None = None,
        changes_only: bool = False,
    ) -> int:
        chosen = list(decisions)
        if not chosen:
            return 0
        log = schema.decisions
        with self._write() as conn:
            if changes_only:
                chosen = _changed(conn, chosen)
                kept = {d.input_digest for d in chosen}
                inputs = {k: v for k, v in (inputs or {}).items() if k in kept}
            log_rows = [rows.decision_row(d) for d in chosen]
            if not log_rows:
                return 0
            if inputs:
                conn.execute(_inputs_insert(), _input_rows(inputs))
            before = conn.execute(sa.select(sa.func.coalesce(sa.func.max(log.c.id), 0))).scalar()
            conn.execute(sa.insert(log), log_rows)
            conn.execute(_current_upsert(after_id=before or 0))
        return len(log_rows)

    def decisions(
        self,
        *,
        policy: str | None = None,
        key: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[Decision]:
        table = schema.decisions
        query = sa.select(table).order_by(table.c.id.desc()).limit(limit)
        if policy is not None:
            query = query.where(table.c.policy == policy)
        if key is not None:
            query = query.where(table.c.key == key)
        if since is not None:
            query = query.where(table.c.at >= codec.utc(since))
        with self._read() as conn:
            return [rows.decision_from_row(r) for r in conn.execute(query).mappings().all()]

    def decision_counts(self, *, since: datetime, bucket: timedelta) -> list[base.DecisionCount]:
        width = int(bucket.total_seconds())
        if width < 1:
            raise ValueError(f"bucket must be at least one second, got {bucket}")
        table, start = schema.decisions, codec.utc(since)
        # Whole seconds since `since`; the column is UTC text SQLite's strftime reads.
        offset = sa.cast(sa.func.strftime("%s", table.c.at), sa.Integer) - int(start.timestamp())
        index = sa.cast(offset / width, sa.Integer).label("bucket")
        query = (
            sa.select(table.c.policy, table.c.outcome, index, sa.func.count().label("n"))
            .where(table.c.at >= start)
            .group_by(table.c.policy, index, table.c.outcome)
            .order_by(table.c.policy, index, table.c.outcome)
        )
        with self._read() as conn:
            found = conn.execute(query).all()
        return [
            base.DecisionCount(
                policy=r.policy,
                outcome=Outcome(r.outcome),
                bucket_start=start + r.bucket * bucket,
                count=r.n,
            )
            for r in found
        ]

    def iter_decisions(self, batch: int = 1000) -> Iterator[Decision]:
        table = schema.decisions
        after = 0
        while True:
            query = sa.select(table).where(table.c.id > after).order_by(table.c.id).limit(batch)
            with self._read() as conn:
                page = conn.execute(query).mappings().all()
            if not page:
                return
            after = page[-1]["id"]
            yield from (rows.decision_from_row(r) for r in page)

    def iter_decisions_with_inputs(
        self, *, batch: int = 1000, shard: int = 0, shards: int = 1
    ) -> Iterator[tuple[Decision, str | None]]:
        log, kept = schema.decisions, schema.decision_inputs
        joined = log.outerjoin(kept, kept.c.digest == log.c.input_digest)
        after = 0
        while True:
            query = (
                sa.select(log, kept.c.input)
                .select_from(joined)
                .where(log.c.id > after)
                .order_by(log.c.id)
                .limit(batch)
            )
            if shards > 1:
                query = query.where(log.c.id % shards == shard)
            with self._read() as conn:
                page = conn.execute(query).mappings().all()
            if not page:
                return
            after = page[-1]["id"]
            yield from ((rows.decision_from_row(r), r["input"]) for r in page)

    def put_inputs(self, inputs: Mapping[str, str]) -> int:
        if not inputs:
            return 0
        with self._write() as conn:
            conn.execute(_inputs_insert(), _input_rows(inputs))
        return len(inputs)

    def get_inputs(self, digests: Iterable[str]) -> dict[str, str]:
        table, wanted = schema.decision_inputs, sorted(set(digests))
        found: dict[str, str] = {}
        with self._read() as conn:
            for start in range(0, len(wanted), 500):  # SQLite caps bound parameters
                query = sa.select(table.c.digest, table.c.input).where(
                    table.c.digest.in_(wanted[start : start + 500])
                )
                found.update((r[0], r[1]) for r in conn.execute(query).all())
        return found

    def violations(self, *, policy: str | None = None, key: str | None = None) -> list[Decision]:
        table = schema.current_decisions
        outcomes = sorted(o.value for o in base.VIOLATION_OUTCOMES)
        query = (
            sa.select(table)
            .where(table.c.outcome.in_(outcomes))
            .order_by(table.c.policy, table.c.key)
        )
        if policy is not None:
            query = query.where(table.c.policy == policy)
        if key is not None:
            query = query.where(table.c.key == key)
        with self._read() as conn:
            return [rows.decision_from_row(r) for r in conn.execute(query).mappings().all()]

    # runs

    def create_run(self, run: base.RunRecord) -> None:
        with self._write() as conn:
            if self._run_exists(conn, run.id):
                raise base.RunExists(run.id)
            conn.execute(sa.insert(schema.runs).values(rows.run_row(run)))
            self._upsert_steps(conn, run.id, run.steps)

    def update_run(self, run: base.RunRecord) -> None:
        table = schema.runs
        with self._write() as conn:
            updated = conn.execute(
                sa.update(table).where(table.c.id == run.id).values(rows.run_row(run))
            )
            if updated.rowcount == 0:
                raise base.RunNotFound(run.id)
            self._upsert_steps(conn, run.id, run.steps)

    def update_step(self, run_id: str, step: base.StepRecord) -> None:
        with self._write() as conn:
            if not self._run_exists(conn, run_id):
                raise base.RunNotFound(run_id)
            self._upsert_steps(conn, run_id, (step,))

    @staticmethod
    def _run_exists(conn: sa.Connection, run_id: str) -> bool:
        query = sa.select(schema.runs.c.seq).where(schema.runs.c.id == run_id)
        return conn.execute(query).first() is not None

    @staticmethod
    def _upsert_steps(conn: sa.Connection, run_id: str, steps: Iterable[base.StepRecord]) -> None:
        step_rows = [rows.step_row(run_id, step) for step in steps]
        if not step_rows:
            return
        stmt = sqlite_insert(schema.run_steps)
        keep = ("run_id", "name", "attempt", "id")
        columns = {
            c.name: stmt.excluded[c.name] for c in schema.run_steps.columns if c.name not in keep
        }
        conn.execute(
            stmt.on_conflict_do_update(index_elements=["run_id", "name", "attempt"], set_=columns),
            step_rows,
        )

    def get_run(self, run_id: str) -> base.RunRecord | None:
        found = self._load_runs(sa.select(schema.runs).where(schema.runs.c.id == run_id))
        return found[0] if found else None

    def list_runs(
        self,
        *,
        kind: base.RunKind | None = None,
        status: base.RunStatus | None = None,
        limit: int = 100,
    ) -> list[base.RunRecord]:
        table = schema.runs
        query = sa.select(table).order_by(table.c.seq.desc()).limit(limit)
        if kind is not None:
            query = query.where(table.c.kind == kind.value)
        if status is not None:
            query = query.where(table.c.status == status.value)
        return self._load_runs(query)

    def _load_runs(self, query: sa.Select[Any]) -> list[base.RunRecord]:
        steps = schema.run_steps
        with self._read() as conn:
            run_rows = conn.execute(query).mappings().all()
            ids = [r["id"] for r in run_rows]
            step_query = sa.select(steps).where(steps.c.run_id.in_(ids)).order_by(steps.c.id)
            by_run: dict[str, list[base.StepRecord]] = {run_id: [] for run_id in ids}
            for r in conn.execute(step_query):
                by_run[r.run_id].append(rows.step_from_row(r._mapping))
        return [rows.run_from_row(r, by_run[r["id"]]) for r in run_rows]

    # simulations

    def put_simulation(self, simulation: base.SimulationRecord) -> None:
        row = rows.simulation_row(simulation)
        upsert = sqlite_insert(schema.simulations).values(row)
        upsert = upsert.on_conflict_do_update(
            index_elements=["id"], set_={k: v for k, v in row.items() if k != "id"}
        )
        with self._write() as conn:
            conn.execute(upsert)

    def get_simulation(self, simulation_id: str) -> base.SimulationRecord | None:
        table = schema.simulations
        with self._read() as conn:
            row = conn.execute(sa.select(table).where(table.c.id == simulation_id)).first()
        return None if row is None else rows.simulation_from_row(row._mapping)

    def list_simulations(
        self,
        *,
        source: str | None = None,
        number: int | None = None,
        status: base.SimulationStatus | None = None,
        limit: int = 100,
    ) -> list[base.SimulationRecord]:
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
        size = sa.func.length(sa.cast(table.c.markdown, sa.LargeBinary)) + sa.func.coalesce(
            sa.func.length(sa.cast(table.c.report, sa.LargeBinary)), 0
        )
        query = (
            sa.select(table.c.seq, size)
            .where(table.c.status.in_([s.value for s in base.SIMULATION_FINISHED]))
            .where(table.c.report.is_not(None) | (table.c.markdown != sa.literal("[]")))
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

    # events

    def append_event(self, event: base.EventRecord) -> base.EventRecord:
        row = rows.event_row(event)
        with self._write() as conn:
            result = conn.execute(sa.insert(schema.events).values(row))
            (event_id,) = result.inserted_primary_key or (None,)
            audit_sql.append(conn, event)  # same transaction: an audited event is chained
        return base.EventRecord(
            id=event_id,
            at=codec.utc(event.at),
            type=event.type,
            object_key=event.object_key,
            message=event.message,
            data=dict(event.data),
        )

    def events(self, *, since_id: int = 0, limit: int = 100) -> list[base.EventRecord]:
        table = schema.events
        query = sa.select(table).where(table.c.id > since_id).order_by(table.c.id).limit(limit)
        with self._read() as conn:
            return [rows.event_from_row(r) for r in conn.execute(query).mappings().all()]

    # retention

    def apply_retention(self, *, now: datetime) -> RetentionReport:
        settings, cutoff = self.retention, codec.utc(now)
        with self._write() as conn:
            decisions = _prune_log(
                conn,
                table=schema.decisions,
                keep=settings.max_decisions,
                before=cutoff - settings.decision_max_age,
            )
            _prune_settled(conn, before=cutoff - settings.decision_max_age)
            events = _prune_log(
                conn,
                table=schema.events,
                keep=settings.max_events,
                before=cutoff - settings.event_max_age,
            )
            runs = _prune_runs(conn, keep=settings.max_runs, before=cutoff - settings.run_max_age)
            revisions = _prune_revisions(conn, keep=settings.max_revisions_per_source)
            _prune_inputs(conn)
            simulations = _prune_simulations(
                conn, keep=settings.max_simulations, before=cutoff - settings.simulation_max_age
            )
        return RetentionReport(
            decisions=decisions,
            events=events,
            runs=runs,
            revisions=revisions,
            simulations=simulations,
        )


def _changed(conn: sa.Connection, decisions: list[Decision]) -> list[Decision]:
    """The decisions that differ from the latest one logged for their (policy, resource)
    and part (the gate's allow/deny/error, or a separate warn): in binding, outcome,
    messages, enforcement or action. The others only repeat it."""
    current = schema.current_decisions
    keys = sorted({d.resource.key for d in decisions})
    latest: dict[tuple[str, str, bool], tuple[Any, ...] | None] = {}
    for start in range(0, len(keys), 500):  # SQLite caps bound parameters
        query = sa.select(current).where(current.c.key.in_(keys[start : start + 500]))
        for row in conn.execute(query).mappings():
            found = rows.decision_from_row(row)
            latest[_part(found)] = _gist(found)
    changed: list[Decision] = []
    for decision in decisions:
        at = _part(decision)
        if at not in latest:  # the current row holds the policy's other part
            latest[at] = _latest_part(conn, at)
        gist = _gist(decision)
        if latest[at] != gist:
            changed.append(decision)
            latest[at] = gist
    return changed


def _part(decision: Decision) -> tuple[str, str, bool]:
    return decision.policy, decision.resource.key, decision.outcome is Outcome.WARN


def _latest_part(conn: sa.Connection, at: tuple[str, str, bool]) -> tuple[Any, ...] | None:
    log = schema.decisions
    policy, key, warn = at
    outcome = log.c.outcome == Outcome.WARN.value if warn else log.c.outcome != Outcome.WARN.value
    query = (
        sa.select(log)
        .where(log.c.policy == policy, log.c.key == key, outcome)
        .order_by(log.c.id.desc())
        .limit(1)
    )
    row = conn.execute(query).mappings().first()
    return None if row is None else _gist(rows.decision_from_row(row))


def _gist(decision: Decision) -> tuple[Any, ...]:
    """What a decision says, apart from when, at which revision and on which input."""
    return (
        decision.binding,
        decision.outcome,
        tuple(decision.messages),
        decision.enforcement,
        decision.action_taken,
    )


def _inputs_insert() -> Any:
    """Keep decision inputs; a digest already kept stays as it is."""
    return sqlite_insert(schema.decision_inputs).on_conflict_do_nothing(index_elements=["digest"])


def _input_rows(inputs: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"digest": d, "input": t} for d, t in inputs.items()]


def _current_upsert(*, after_id: int) -> Any:
    """Fold log rows above `after_id` into the latest decision per (policy, key).

    SQLite applies the rows in id order, so within one batch the later of two decisions
    made at the same time wins, as it does across batches.
    """
    log, current = schema.decisions, schema.current_decisions
    names = [c.name for c in current.columns]
    fresh = sa.select(*(log.c[n] for n in names)).where(log.c.id > after_id).order_by(log.c.id)
    stmt = sqlite_insert(current).from_select(names, fresh)
    changed = {n: stmt.excluded[n] for n in names if n not in ("policy", "key")}
    return stmt.on_conflict_do_update(
        index_elements=["policy", "key"], set_=changed, where=stmt.excluded.at >= current.c.at
    )


def _prune_log(conn: sa.Connection, *, table: sa.Table, keep: int, before: datetime) -> int:
    """Drop rows older than `before`, then all but the newest `keep` (ids only grow)."""
    removed = conn.execute(sa.delete(table).where(table.c.at < before)).rowcount
    newest_dropped = (
        sa.select(table.c.id).order_by(table.c.id.desc()).limit(1).offset(keep).scalar_subquery()
    )
    removed += conn.execute(sa.delete(table).where(table.c.id <= newest_dropped)).rowcount
    return removed


def _prune_settled(conn: sa.Connection, *, before: datetime) -> None:
    """Forget old latest-decisions that are not violations: their absence says the same."""
    table = schema.current_decisions
    outcomes = sorted(o.value for o in base.VIOLATION_OUTCOMES)
    conn.execute(sa.delete(table).where(table.c.at < before, table.c.outcome.not_in(outcomes)))


def _prune_runs(conn: sa.Connection, *, keep: int, before: datetime) -> int:
    """Drop finished runs (their steps cascade) by age, then all but the newest `keep`."""
    table = schema.runs
    return _prune_finished(
        conn,
        table=table,
        statuses=base.FINISHED,
        began=table.c.started_at,
        keep=keep,
        before=before,
    )


def _prune_simulations(conn: sa.Connection, *, keep: int, before: datetime) -> int:
    """Drop finished simulations by age, then all but the newest `keep`."""
    table = schema.simulations
    return _prune_finished(
        conn,
        table=table,
        statuses=base.SIMULATION_FINISHED,
        began=table.c.created_at,
        keep=keep,
        before=before,
    )


def _prune_finished(
    conn: sa.Connection,
    *,
    table: sa.Table,
    statuses: Iterable[Any],
    began: Any,
    keep: int,
    before: datetime,
) -> int:
    """Rows whose status is finished: drop those ended before `before`, then all but the
    newest `keep`; unfinished rows are never pruned."""
    finished = table.c.status.in_(sorted(s.value for s in statuses))
    ended = sa.func.coalesce(table.c.finished_at, began)
    removed = conn.execute(sa.delete(table).where(finished, ended < before)).rowcount
    newest_dropped = (
        sa.select(table.c.seq)
        .where(finished)
        .order_by(table.c.seq.desc())
        .limit(1)
        .offset(keep)
        .scalar_subquery()
    )
    removed += conn.execute(
        sa.delete(table).where(finished, table.c.seq <= newest_dropped)
    ).rowcount
    return int(removed)


def _prune_revisions(conn: sa.Connection, *, keep: int) -> int:
    table = schema.revisions
    rank = sa.func.row_number().over(partition_by=table.c.source, order_by=table.c.seq.desc())
    ranked = sa.select(table.c.seq, rank.label("rank")).subquery()
    old = sa.select(ranked.c.seq).where(ranked.c.rank > keep)
    return conn.execute(sa.delete(table).where(table.c.seq.in_(old))).rowcount


def _prune_inputs(conn: sa.Connection) -> None:
    """Forget inputs no logged or current decision refers to any more."""
    table = schema.decision_inputs
    used = sa.union(
        sa.select(schema.decisions.c.input_digest),
        sa.select(schema.current_decisions.c.input_digest),
    )
    conn.execute(sa.delete(table).where(table.c.digest.not_in(used)))


def _chunks(items: list[Any], size: int = 500) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
