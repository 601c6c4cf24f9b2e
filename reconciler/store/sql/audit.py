"""The table and queries behind `audit.AuditLog`, for any SQL store.

`append` runs inside the caller's write transaction (the one that appends the event), so
the chain's head is read and the new entry written while the store holds the write lock:
two writers never both extend the same head. `data` is kept as the canonical JSON text that
was hashed, and `at` as the exact ISO text, so verifying hashes what is stored byte for
byte. The table is added by schema version 4.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import sqlalchemy as sa

from reconciler.store import audit, codec
from reconciler.store.interfaces import EventRecord
from reconciler.store.sql import schema

table = sa.Table(
    "audit_log",
    schema.metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("id", sa.String, nullable=False, unique=True),
    sa.Column("at", sa.String, nullable=False),
    sa.Column("type", sa.String, nullable=False),
    sa.Column("subject", sa.String, nullable=False),
    sa.Column("actor", sa.String, nullable=False),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String, nullable=False),
    sa.Column("hash", sa.String, nullable=False),
)

_BATCH = 1000
# Built once: SQLAlchemy spends more on building a statement than SQLite on running it.
_HEAD = sa.select(table.c.seq, table.c.hash).order_by(table.c.seq.desc()).limit(1)
_INSERT = sa.insert(table)


def append(conn: sa.Connection, event: EventRecord) -> audit.AuditEntry | None:
    """Chain `event` onto the log if its type is audited (in the caller's transaction)."""
    if not audit.audited(event.type, event.data):
        return None
    head = conn.execute(_HEAD).first()
    seq, prev_hash = (head.seq + 1, head.hash) if head else (1, audit.GENESIS)
    entry = audit.link(
        seq=seq,
        prev_hash=prev_hash,
        id=str(uuid.uuid4()),
        at=codec.iso(event.at),
        type=event.type,
        subject=event.object_key or "",
        data=event.data,
    )
    conn.execute(_INSERT, _row(entry))
    return entry


def _row(entry: audit.AuditEntry) -> dict[str, Any]:
    return {**entry.to_json(), "data": audit.canonical(entry.data)}


def entries(conn: sa.Connection, *, since: int = 0, limit: int = _BATCH) -> list[audit.AuditEntry]:
    query = sa.select(table).where(table.c.seq > since).order_by(table.c.seq).limit(limit)
    return [_entry(r) for r in conn.execute(query).mappings()]


def every(conn: sa.Connection) -> Iterator[audit.AuditEntry]:
    """The whole chain in order, read a batch at a time on one connection."""
    after = 0
    while page := entries(conn, since=after):
        yield from page
        after = page[-1].seq


def _entry(row: Any) -> audit.AuditEntry:
    fields = dict(row)
    try:
        fields["data"] = json.loads(fields["data"])
    except ValueError:  # not even JSON any more: kept as text, so its hash fails
        fields["data"] = {"unreadable": fields["data"]}
    return audit.AuditEntry(**fields)


Connect = AbstractContextManager[sa.Connection]


class AuditLogMixin:
    """`audit.AuditLog` for any SQLAlchemy store with `_read()`."""

    _read: Callable[[], Connect]  # provided by the store

    def audit_entries(self, *, since: int = 0, limit: int = 1000) -> list[audit.AuditEntry]:
        with self._read() as conn:
            return entries(conn, since=since, limit=limit)

    def verify_audit(self) -> audit.Verification:
        with self._read() as conn:
            return audit.walk(every(conn))
