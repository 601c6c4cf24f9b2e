"""The decision log in SQL, for any backend: appended in batches with the inputs the
decisions were made on, the latest decision per (policy, resource) kept beside it for the
current violations, and the changes-only filter that keeps repeats out."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from reconciler.policy.decisions import Decision, Outcome
from reconciler.store import codec, interfaces
from reconciler.store.sql import rows, schema

Connect = AbstractContextManager[sa.Connection]


class DecisionLogMixin:
    """`interfaces.DecisionLog` for any SQLAlchemy store with `_write()`, `_read()`, and
    the backend's `_upsert(table)` (an INSERT that takes ON CONFLICT) and
    `_epoch_seconds(column)` (a timestamp column as whole seconds since the epoch)."""

    _write: Callable[..., Connect]  # provided by the store
    _read: Callable[[], Connect]
    _upsert: Callable[[sa.Table], Any]
    _epoch_seconds: Callable[[Any], Any]

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
                conn.execute(self._keep_inputs(), _input_rows(inputs))
            before = conn.execute(sa.select(sa.func.coalesce(sa.func.max(log.c.id), 0))).scalar()
            conn.execute(sa.insert(log), log_rows)
            conn.execute(self._current_upsert, {"after_id": before or 0})
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

    def decision_counts(
        self, *, since: datetime, bucket: timedelta
    ) -> list[interfaces.DecisionCount]:
        width = int(bucket.total_seconds())
        if width < 1:
            raise ValueError(f"bucket must be at least one second, got {bucket}")
        table, start = schema.decisions, codec.utc(since)
        offset = self._epoch_seconds(table.c.at) - int(start.timestamp())
        index = (offset // width).label("bucket")  # offsets are never negative: floor
        query = (
            sa.select(table.c.policy, table.c.outcome, index, sa.func.count().label("n"))
            .where(table.c.at >= start)
            .group_by(table.c.policy, index, table.c.outcome)
            .order_by(table.c.policy, index, table.c.outcome)
        )
        with self._read() as conn:
            found = conn.execute(query).all()
        return [
            interfaces.DecisionCount(
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
            conn.execute(self._keep_inputs(), _input_rows(inputs))
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
        outcomes = sorted(o.value for o in interfaces.VIOLATION_OUTCOMES)
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

    def _keep_inputs(self) -> Any:
        """Keep decision inputs; a digest already kept stays as it is."""
        return self._upsert(schema.decision_inputs).on_conflict_do_nothing(
            index_elements=["digest"]
        )

    @functools.cached_property
    def _current_upsert(self) -> Any:
        """Fold log rows above the `after_id` parameter into the latest decision per
        (policy, key); built once per store, so each append reuses its compiled form.

        Of the new rows of one (policy, key), the latest (by time, then by id) is the one
        upserted, and only over a current row that is not newer: the result of applying the
        rows one by one in id order, in one statement every backend accepts (PostgreSQL
        refuses an upsert that touches a row twice).
        """
        log, current = schema.decisions, schema.current_decisions
        names = [c.name for c in current.columns]
        rank = (
            sa.func.row_number()
            .over(
                partition_by=(log.c.policy, log.c.key), order_by=(log.c.at.desc(), log.c.id.desc())
            )
            .label("rank")
        )
        after = sa.bindparam("after_id", type_=sa.Integer)
        ranked = sa.select(*(log.c[n] for n in names), rank).where(log.c.id > after).subquery()
        fresh = sa.select(*(ranked.c[n] for n in names)).where(ranked.c.rank == 1)
        stmt = self._upsert(current).from_select(names, fresh)
        changed = {n: stmt.excluded[n] for n in names if n not in ("policy", "key")}
        return stmt.on_conflict_do_update(
            index_elements=["policy", "key"], set_=changed, where=stmt.excluded.at >= current.c.at
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


def _input_rows(inputs: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"digest": d, "input": t} for d, t in inputs.items()]
