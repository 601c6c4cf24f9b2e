"""The store's tables, declared once in SQLAlchemy Core for every SQL backend.

A new database gets the tables as declared here and is stamped in `schema_version` with the
newest version; the backend brings an older database forward (`store.sqlite`'s migrations).
To change the schema, change the declarations AND append one migration there. Tables added
without a version bump are created by `create_missing` when a database is opened.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from reconciler.store import codec


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp.

    SQLite has no timestamp type: there it is fixed-width text, `YYYY-MM-DD HH:MM:SS.ffffff`
    in UTC, which sorts and compares in time order and parses with the C `fromisoformat`.
    Other databases get their zone-aware timestamp type.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.String(26))
        return dialect.type_descriptor(sa.DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        value = codec.utc(value)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        return value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            return datetime.fromisoformat(value).replace(tzinfo=UTC)
        return codec.utc(value)


metadata = sa.MetaData()

schema_version = sa.Table(
    "schema_version", metadata, sa.Column("version", sa.Integer, nullable=False)
)

revisions = sa.Table(
    "revisions",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("source", sa.String, nullable=False),
    sa.Column("sha", sa.String, nullable=False),
    sa.Column("ref", sa.String, nullable=False),
    sa.Column("committed_at", UtcDateTime, nullable=False),
    sa.Column("author", sa.String, nullable=False),
    sa.Column("message", sa.String, nullable=False),
    sa.Column("signature_verified", sa.Boolean, nullable=True),
    sa.Column("signer", sa.String, nullable=True),
    sa.UniqueConstraint("source", "sha"),
    sa.Index("ix_revisions_source_seq", "source", "seq"),
    sqlite_autoincrement=True,
)

object_status = sa.Table(
    "object_status",
    metadata,
    sa.Column("key", sa.String, primary_key=True),
    sa.Column("kind", sa.String, nullable=False),
    sa.Column("namespace", sa.String, nullable=True),
    sa.Column("name", sa.String, nullable=False),
    sa.Column("source", sa.String, nullable=False, index=True),
    sa.Column("observed_generation", sa.Integer, nullable=False),
    sa.Column("conditions", sa.JSON, nullable=False),
    sa.Column("last_attempted_revision", sa.String, nullable=True),
    sa.Column("last_applied_revision", sa.String, nullable=True),
    sa.Column("inventory", sa.Boolean, nullable=False),
    sa.Column("applied_changes", sa.JSON, nullable=False),
    sa.Column("drift", sa.JSON, nullable=True),
    sa.Column("history", sa.JSON, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

object_conditions = sa.Table(
    "object_conditions",
    metadata,
    sa.Column(
        "key", sa.String, sa.ForeignKey("object_status.key", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("type", sa.String, primary_key=True),
    sa.Column("status", sa.String, nullable=False),
    sa.Index("ix_object_conditions_type_status", "type", "status"),
)


def _decision_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("policy", sa.String, nullable=False),
        sa.Column("binding", sa.String, nullable=False),
        sa.Column("key", sa.String, nullable=False),
        sa.Column("api_version", sa.String, nullable=False),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("namespace", sa.String, nullable=True),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("path", sa.String, nullable=False),
        sa.Column("outcome", sa.String, nullable=False),
        sa.Column("messages", sa.JSON, nullable=False),
        sa.Column("enforcement", sa.String, nullable=False),
        sa.Column("action", sa.String, nullable=False),
        sa.Column("revision", sa.String, nullable=True),
        sa.Column("input_digest", sa.String, nullable=False),
        sa.Column("explanation", sa.String, nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
    ]


decisions = sa.Table(
    "decisions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    *_decision_columns(),
    sa.Index("ix_decisions_policy_id", "policy", "id"),
    sa.Index("ix_decisions_key_id", "key", "id"),
    sa.Index("ix_decisions_at", "at"),
    sqlite_autoincrement=True,
)

current_decisions = sa.Table(
    "current_decisions",
    metadata,
    *_decision_columns(),
    sa.PrimaryKeyConstraint("policy", "key"),
    sa.Index("ix_current_decisions_outcome", "outcome"),
)
"""The latest decision per (policy, key): the current violations are read from here."""

decision_inputs = sa.Table(
    "decision_inputs",
    metadata,
    sa.Column("digest", sa.String, primary_key=True),
    sa.Column("input", sa.Text, nullable=False),
)
"""The exact input (canonical JSON) each logged decision was made on, by its sha256, so the
log can be replayed against other policies. Added without a version bump: `create_missing`
adds it to a database made before it existed."""


heartbeat = sa.Table("heartbeat", metadata, sa.Column("at", UtcDateTime, nullable=False))
"""One row, rewritten by `/readyz` to prove the store still takes writes. Additive."""


def create_missing(connection: sa.Connection) -> None:
    """Create tables added after a database was stamped (additive, idempotent): every
    table declared on `metadata`, including those of the store's role modules."""
    metadata.create_all(connection, checkfirst=True)


runs = sa.Table(
    "runs",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("id", sa.String, nullable=False, unique=True),
    sa.Column("kind", sa.String, nullable=False, index=True),
    sa.Column("name", sa.String, nullable=False),
    sa.Column("trigger", sa.String, nullable=False),
    sa.Column("revision", sa.String, nullable=True),
    sa.Column("status", sa.String, nullable=False, index=True),
    sa.Column("started_at", UtcDateTime, nullable=True),
    sa.Column("finished_at", UtcDateTime, nullable=True),
    sa.Column("error", sa.String, nullable=True),
    sqlite_autoincrement=True,
)

run_steps = sa.Table(
    "run_steps",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.String, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String, nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("status", sa.String, nullable=False),
    sa.Column("started_at", UtcDateTime, nullable=True),
    sa.Column("finished_at", UtcDateTime, nullable=True),
    sa.Column("output", sa.JSON, nullable=False),
    sa.Column("error", sa.String, nullable=True),
    sa.UniqueConstraint("run_id", "name", "attempt"),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", UtcDateTime, nullable=False, index=True),
    sa.Column("type", sa.String, nullable=False),
    sa.Column("object_key", sa.String, nullable=True),
    sa.Column("message", sa.String, nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
    sqlite_autoincrement=True,
)


simulations = sa.Table(
    "simulations",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("id", sa.String, nullable=False, unique=True),
    sa.Column("source", sa.String, nullable=False),
    sa.Column("forge", sa.String, nullable=False),
    sa.Column("number", sa.Integer, nullable=True),
    sa.Column("base", sa.String, nullable=False),
    sa.Column("head", sa.String, nullable=False),
    sa.Column("status", sa.String, nullable=False, index=True),
    sa.Column("blocked", sa.Boolean, nullable=False),
    sa.Column("conclusion", sa.String, nullable=True),
    sa.Column("summary", sa.String, nullable=False),
    sa.Column("report", sa.JSON, nullable=True),
    sa.Column("markdown", sa.JSON, nullable=False),
    sa.Column("forge_error", sa.String, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("finished_at", UtcDateTime, nullable=True),
    sa.Index("ix_simulations_source_number", "source", "number"),
    sqlite_autoincrement=True,
)
"""Pull-request simulations and their reports (schema version 2)."""
