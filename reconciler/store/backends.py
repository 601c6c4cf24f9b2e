"""Which store backend the daemon opens: the `store` settings' URL, else one SQLite file.

`postgresql://...` (or `postgres://`) opens `postgres.PostgresStore`, which needs the
`postgresql` extra (psycopg); anything else is refused with the setting named. Without a
URL the store is `reconciler.db` in the data directory (`sqlite.SqliteStore`), the
embedded default.
"""

from __future__ import annotations

from pathlib import Path

from reconciler.errors import UsageError
from reconciler.store.interfaces import Store
from reconciler.store.retention import RetentionSettings
from reconciler.store.sqlite import SqliteStore

SQLITE_FILE = "reconciler.db"


def open_store(url: str | None, *, data_dir: Path, retention: RetentionSettings) -> Store:
    """The daemon's store (see the module docstring)."""
    if url is None:
        return SqliteStore(data_dir / SQLITE_FILE, retention=retention)
    if not url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        raise UsageError(
            "store.url: only postgresql:// URLs are supported (unset: SQLite in the data dir)"
        )
    try:
        from reconciler.store.postgres import PostgresStore
    except ImportError as exc:
        raise UsageError(
            f"store.url: PostgreSQL needs psycopg ({exc}); install reconciler[postgresql]"
        ) from None
    return PostgresStore(url, retention=retention)
