"""The default store backend: one SQLite file in WAL mode.

`sql.store.SqlStore` holds every query; this module holds what only SQLite needs: the
engine on a file, the pragmas each connection gets (WAL, `synchronous=NORMAL`, foreign keys,
the busy timeout), how transactions begin, SQLite's spelling of an upsert and of epoch
seconds, its integrity check, and the migrations that bring an older file forward. Writes
open with `BEGIN IMMEDIATE`: SQLite then queues writers on the busy timeout instead of
failing one of two transactions that both read before writing. The driver's own implicit
transactions are switched off so those BEGINs are ours alone.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from reconciler.store import interfaces
from reconciler.store.retention import RetentionSettings
from reconciler.store.sql import schema
from reconciler.store.sql.store import WRITE, SqlStore

BASELINE = 1
"""The version `create_all` produces when `MIGRATIONS` is empty."""

Migration = Callable[[sa.Connection], None]


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


# Migrations. A new file gets the tables as `schema` declares them and is stamped with the
# newest version. An older one is brought forward by running, in order, the migrations it
# has not seen, all in the one transaction that opens it: a failed migration leaves it as it
# was. A file stamped with a version newer than this code knows is refused, not misread.


def _add_simulations(connection: sa.Connection) -> None:
    """Version 2: the `simulations` table."""
    schema.simulations.create(connection, checkfirst=True)


def _split_drift(connection: sa.Connection) -> None:
    """Version 3: an object's changes applied from Git and its drift are kept apart.

    The one `last_diff` column held whichever came last; it becomes `applied_changes` and
    `drift` starts empty (the next pass that finds a drift records it)."""
    names = {c["name"] for c in sa.inspect(connection).get_columns(schema.object_status.name)}
    if "last_diff" in names:
        connection.exec_driver_sql(
            "ALTER TABLE object_status RENAME COLUMN last_diff TO applied_changes"
        )
    if "drift" not in names:
        connection.exec_driver_sql("ALTER TABLE object_status ADD COLUMN drift JSON")


def _add_audit_log(connection: sa.Connection) -> None:
    """Version 4: the hash-chained `audit_log` (declared in `sql.audit`); the chain starts
    empty, with the first audited event after the upgrade."""
    from reconciler.store.sql import audit  # it declares its table on `metadata`

    audit.table.create(connection, checkfirst=True)


MIGRATIONS: tuple[Migration, ...] = (_add_simulations, _split_drift, _add_audit_log)
"""MIGRATIONS[i] upgrades a database from version BASELINE + i to BASELINE + i + 1."""


def stored_version(connection: sa.Connection) -> int | None:
    """The version a database is stamped with; None for a database without our tables."""
    if not sa.inspect(connection).has_table(schema.schema_version.name):
        return None
    return connection.execute(sa.select(sa.func.max(schema.schema_version.c.version))).scalar()


def upgrade(connection: sa.Connection, *, migrations: Sequence[Migration], where: str) -> int:
    """Create or migrate the schema inside the caller's transaction; returns the version."""
    head = BASELINE + len(migrations)
    version = stored_version(connection)
    if version is None:
        schema.metadata.create_all(connection)
        connection.execute(sa.insert(schema.schema_version).values(version=head))
        return head
    if version > head:
        raise interfaces.SchemaVersionError(
            f"{where}: database schema version {version} is newer than this reconciler"
            f" supports ({head}); open it with a newer reconciler"
        )
    for migration in migrations[version - BASELINE :]:
        migration(connection)
    if version != head:
        connection.execute(sa.update(schema.schema_version).values(version=head))
    return head
