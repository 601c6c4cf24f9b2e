"""Retention in SQL, for any backend: what `apply_retention` removes, in the caller's one
write transaction. Logs are cut by age and count, finished runs and simulations by age and
count (unfinished ones never), revisions per source by count, and inputs and settled latest
decisions once nothing refers to them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from reconciler import runstate
from reconciler.store import codec, interfaces
from reconciler.store.retention import RetentionReport, RetentionSettings
from reconciler.store.sql import schema


def apply(conn: sa.Connection, *, settings: RetentionSettings, now: datetime) -> RetentionReport:
    """Prune as `settings` say, as of `now`; returns what was removed."""
    cutoff = codec.utc(now)
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
    outcomes = sorted(o.value for o in interfaces.VIOLATION_OUTCOMES)
    conn.execute(sa.delete(table).where(table.c.at < before, table.c.outcome.not_in(outcomes)))


def _prune_runs(conn: sa.Connection, *, keep: int, before: datetime) -> int:
    """Drop finished runs (their steps cascade) by age, then all but the newest `keep`."""
    table = schema.runs
    return _prune_finished(
        conn,
        table=table,
        statuses=runstate.FINISHED,
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
        statuses=interfaces.SIMULATION_FINISHED,
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
