"""The default store backend: one SQLite file in WAL mode.

`sql.store.SqlStore` holds every query; this module holds what only SQLite needs: the
engine on a file, the pragmas each connection gets (WAL, `synchronous=NORMAL`, foreign keys,
the busy timeout), how transactions begin, SQLite's spelling of an upsert and of epoch
seconds, and its integrity check; the migrations that bring an older file forward are every
SQL backend's (`sql.migrations`), run here on the module's `MIGRATIONS`. Writes
open with `BEGIN IMMEDIATE`: SQLite then queues writers on the busy timeout instead of
failing one of two transactions that both read before writing. The driver's own implicit
transactions are switched off so those BEGINs are ours alone.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from reconciler.store.retention import RetentionSettings
from reconciler.store.sql import schema
from reconciler.store.sql.migrations import BASELINE, MIGRATIONS, Migration, upgrade
from reconciler.store.sql.store import WRITE, SqlStore

__all__ = ["BASELINE", "MIGRATIONS", "Migration", "SqliteStore"]


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
    write = connection.get_execution_options().get(WRITE, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


class SqliteStore(SqlStore):
    """`interfaces.Store` in one SQLite file; see the module docstring."""

    def __init__(
        self, path: Path | str, *, retention: RetentionSettings, busy_timeout: float = 30.0
    ) -> None:
        self.path = Path(path)
        engine = sa.create_engine(
            f"sqlite:///{self.path}",
            connect_args={"check_same_thread": False, "timeout": busy_timeout},
        )
        super().__init__(engine, retention=retention, where=str(self.path))
        self._busy_timeout_ms = int(busy_timeout * 1000)
        sa.event.listen(engine, "connect", self._on_connect)
        sa.event.listen(engine, "begin", _on_begin)
        with self._write(doing="open") as conn:
            self.schema_version = upgrade(conn, migrations=MIGRATIONS, where=str(self.path))
            schema.create_missing(conn)
            conn.exec_driver_sql("PRAGMA quick_check(1)")  # a corrupt file fails here

    def _on_connect(self, dbapi_connection: sqlite3.Connection, record: object) -> None:
        _pragmas(dbapi_connection, busy_timeout_ms=self._busy_timeout_ms)

    def _upsert(self, table: sa.Table) -> Any:
        return sqlite_insert(table)

    def _epoch_seconds(self, column: Any) -> Any:
        # The column is UTC text (`schema.UtcDateTime`), which SQLite's strftime reads.
        return sa.cast(sa.func.strftime("%s", column), sa.Integer)

    def integrity_check(self) -> list[str]:
        """SQLite's own consistency check; `["ok"]` for a sound file."""
        with self._read() as conn:
            return [row[0] for row in conn.exec_driver_sql("PRAGMA integrity_check")]
