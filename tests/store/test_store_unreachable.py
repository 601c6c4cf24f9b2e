"""A PostgreSQL store whose database went away answers reads and writes with
`StoreUnavailable` (a `StoreError`, which the daemon's heartbeat and passes handle and log),
naming the database and the server's reason — not a driver exception that ends the task
that met it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from reconciler.store.interfaces import StoreUnavailable
from reconciler.store.postgres import PostgresStore
from reconciler.store.retention import RetentionSettings
from tests.postgres import Server


def test_reads_and_writes_of_a_dropped_database_raise_store_unavailable(postgres: Server) -> None:
    name = postgres.database()
    store = PostgresStore(postgres.url(name), retention=RetentionSettings())
    try:
        assert store.database_now() is not None
        with postgres.connect() as admin:  # ends the store's connections too
            admin.autocommit = True
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        now = datetime(2026, 1, 1, tzinfo=UTC)
        with pytest.raises(StoreUnavailable, match=rf"{name}.*cannot read the database"):
            store.database_now()
        with pytest.raises(StoreUnavailable, match=rf"{name}.*cannot read the database"):
            store.holders()
        with pytest.raises(StoreUnavailable, match=rf"{name}.*cannot write the database"):
            store.acquire("source:a", "r1", ttl=timedelta(seconds=5), now=now)
    finally:
        store.close()
