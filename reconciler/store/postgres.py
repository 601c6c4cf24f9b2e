"""The shared store backend: PostgreSQL, for several daemons on one database.

`sql.store.SqlStore` holds every query; this module holds what PostgreSQL needs: the
engine on a `postgresql://` URL (driven by psycopg 3), its spelling of an upsert and of
epoch seconds, and how writes are ordered. A write transaction first takes the
transaction-scoped advisory lock its `sql.locks` name says: the writes that read before
they write in tables every writer shares (the audit chain's head, the decision log's
current rows) and the batches a pass writes in are serialised on one lock, as SQLite's
`BEGIN IMMEDIATE` serialises them; the writes that decide in one statement or touch only
rows their fenced owner writes — leases, claims, queued work, run records, statuses,
revisions and intents outside a batch, events outside the audit chain — take none, so
replicas write those side by side. Reads run beside them all under MVCC. Opening runs the same
migrations as SQLite (`sql.migrations`) under the serial lock, so replicas starting
together migrate once.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert

from reconciler.store import codec
from reconciler.store.retention import RetentionSettings
from reconciler.store.sql import locks, migrations, schema
from reconciler.store.sql.store import WRITE, SqlStore

WRITE_LOCK = 0x7265636F6E  # the advisory lock of `locks.SERIAL` writes ("recon")
_SCHEME = re.compile(r"^postgres(?:ql)?(?:\+\w+)?://")
_PASSWORD = re.compile(r"(//[^:/@]+:)[^@]*@")


def driver_url(url: str) -> str:
    """`url` with the psycopg 3 driver named, whatever scheme spelling it came with."""
    if not _SCHEME.match(url):
        raise ValueError(f"not a PostgreSQL URL: {redact(url)}")
    return _SCHEME.sub("postgresql+psycopg://", url, count=1)


def redact(url: str) -> str:
    """`url` without its password, for messages and logs."""
    return _PASSWORD.sub(r"\1***@", url)


def lock_key(name: str) -> int:
    """The advisory lock id of lock `name` (`sql.locks`): a signed 64-bit number."""
    if name == locks.SERIAL:
        return WRITE_LOCK
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def _on_begin(connection: sa.Connection) -> None:
    options = connection.get_execution_options()
    name = options.get(locks.OPTION)
    if options.get(WRITE, False) and name is not None:
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({lock_key(name)})")


class PostgresStore(SqlStore):
    """`interfaces.Store` in a PostgreSQL database; see the module docstring."""

    def __init__(self, url: str, *, retention: RetentionSettings, pool_size: int = 8) -> None:
        engine = sa.create_engine(driver_url(url), pool_pre_ping=True, pool_size=pool_size)
        super().__init__(engine, retention=retention, where=redact(url))
        sa.event.listen(engine, "begin", _on_begin)
        with self._write(doing="open") as conn:
            self.schema_version = migrations.upgrade(
                conn, migrations=migrations.MIGRATIONS, where=self.where
            )
            schema.create_missing(conn)

    def _upsert(self, table: sa.Table) -> Any:
        return postgresql_insert(table)

    def _epoch_seconds(self, column: Any) -> Any:
        return sa.cast(sa.func.floor(sa.extract("epoch", column)), sa.Integer)

    def _byte_length(self, column: Any) -> Any:
        return sa.func.octet_length(sa.cast(column, sa.Text))

    def database_now(self) -> datetime:
        """The server's clock (`clock_timestamp()`: the moment of asking, not the start of
        the transaction), which every replica's leases are stamped and judged by."""
        with self._read() as conn:
            found = conn.execute(sa.select(sa.func.clock_timestamp())).scalar_one()
        return codec.utc(found)

    def integrity_check(self) -> list[str]:
        """`["ok"]` once the server answers (PostgreSQL checks its own pages)."""
        with self._read() as conn:
            conn.exec_driver_sql("SELECT 1")
        return ["ok"]
