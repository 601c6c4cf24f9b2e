"""Schema versions and the migrations that bring an older database forward, for every SQL
backend.

A new database gets the tables as `schema` declares them and is stamped with the newest
version. An older one is brought forward by running, in order, the migrations it has not
seen, all in the one transaction that opens it: a failed migration leaves it as it was. A
database stamped with a version newer than this code knows is refused, not misread. The
early migrations (2 and 3) only ever meet SQLite files, which is all that existed then.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa

from reconciler.store import interfaces
from reconciler.store.sql import schema

BASELINE = 1
"""The version `create_all` produces when `MIGRATIONS` is empty."""

Migration = Callable[[sa.Connection], None]


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


def _add_child_hosts(connection: sa.Connection) -> None:
    """Version 5: a child group names its host and replica, and is keyed by host and pgid
    (a pgid is unique on one host only). The rows (groups running when the database was
    last used) are carried over with an empty host: every host's, as before."""
    from reconciler.store.sql import children  # it declares its table on `metadata`

    if not sa.inspect(connection).has_table(children.table.name):
        return  # created by `create_missing`
    table, carried = children.table, ("pgid", "daemon_pid", "started_at", "owner")
    names = {c["name"] for c in sa.inspect(connection).get_columns(table.name)}
    if "host" in names:
        return
    query = sa.select(*(table.c[name] for name in carried))
    kept = [dict(r) for r in connection.execute(query).mappings()]
    connection.exec_driver_sql(f"DROP TABLE {table.name}")
    table.create(connection)
    if kept:
        connection.execute(sa.insert(table), [{**r, "host": "", "replica": ""} for r in kept])


def _add_proposals(connection: sa.Connection) -> None:
    """Version 6: the `proposals` lifecycle and `optimization_flags` (declared in
    `sql.proposals`). Proposals made before get their row when an optimization run first
    looks for them (`optimize.landing`)."""
    from reconciler.store.sql import proposals  # it declares its tables on `metadata`

    proposals.table.create(connection, checkfirst=True)
    proposals.flags.create(connection, checkfirst=True)


def _add_queue_kinds(connection: sa.Connection) -> None:
    """Version 7: the run queue holds simulations and optimization runs beside workflow,
    runbook and remediation runs: a `kind` (the rows queued before are runs) and the job's
    `payload`."""
    from reconciler.store.runqueue import RUN
    from reconciler.store.sql import runqueue  # it declares its table on `metadata`

    name = runqueue.table.name
    if not sa.inspect(connection).has_table(name):
        return  # created by `create_missing`
    names = {c["name"] for c in sa.inspect(connection).get_columns(name)}
    if "kind" not in names:
        connection.exec_driver_sql(
            f"ALTER TABLE {name} ADD COLUMN kind VARCHAR NOT NULL DEFAULT '{RUN}'"
        )
    if "payload" not in names:
        connection.exec_driver_sql(f"ALTER TABLE {name} ADD COLUMN payload JSON")


MIGRATIONS: tuple[Migration, ...] = (
    _add_simulations,
    _split_drift,
    _add_audit_log,
    _add_child_hosts,
    _add_proposals,
    _add_queue_kinds,
)
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
