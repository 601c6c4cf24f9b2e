"""The store contract runs once per backend: every test taking `store` or `open_store` is
parametrised over `BACKENDS`.

A backend joins the whole suite by adding one entry to `BACKENDS`: a `Backend` whose
`opener`, given the test's fixtures and temporary directory, returns a function that opens
(or, called again, reopens) the same store with the retention settings given, so tests can
check what survives a reopen; and whose `tamper` runs SQL on that database behind the
store's back, as an attacker or an older reconciler would (the audit tests write it in
SQLite's dialect; a backend translates what it must). `postgresql` runs every test on a
fresh database of one real server per session (`tests/postgres.py`). Tests of one
backend's own promises (a file, WAL, migrations of old files) live in their own modules
(`test_store_sqlite.py`) and open that backend directly.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reconciler.store import interfaces, sqlite
from reconciler.store.postgres import PostgresStore
from reconciler.store.retention import RetentionSettings
from tests.postgres import Server

Opener = Callable[..., interfaces.Store]
Tamper = Callable[..., None]  # (sql, rows=()): one statement per row, or a script without


@dataclass(frozen=True, kw_only=True)
class Backend:
    opener: Callable[[pytest.FixtureRequest, Path], Opener]
    tamper: Callable[[pytest.FixtureRequest, Path], Tamper]


def _sqlite_opener(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    def opener(retention: RetentionSettings | None = None) -> interfaces.Store:
        return sqlite.SqliteStore(tmp_path / "state.db", retention=retention or RetentionSettings())

    return opener


def _sqlite_tamper(request: pytest.FixtureRequest, tmp_path: Path) -> Tamper:
    def tamper(sql: str, rows: Sequence[Sequence[Any]] = ()) -> None:
        conn = sqlite3.connect(tmp_path / "state.db")
        try:
            with conn:
                if rows:
                    conn.executemany(sql, rows)
                else:
                    conn.executescript(sql)
        finally:
            conn.close()

    return tamper


_DATABASES: dict[Path, str] = {}  # each test's database, by its temporary directory


def _database(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Server, str]:
    server: Server = request.getfixturevalue("postgres")
    if tmp_path not in _DATABASES:
        _DATABASES[tmp_path] = server.database()
    return server, _DATABASES[tmp_path]


def _postgres_opener(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    server, name = _database(request, tmp_path)

    def opener(retention: RetentionSettings | None = None) -> interfaces.Store:
        return PostgresStore(server.url(name), retention=retention or RetentionSettings())

    return opener


# SQLite statements of the tests, as PostgreSQL says them.
_IN_POSTGRES = {
    "CREATE TRIGGER refuse BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'no'); END": (
        "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'no' USING"
        " ERRCODE = 'integrity_constraint_violation'; END $$ LANGUAGE plpgsql;"
        " CREATE TRIGGER refuse BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION refuse()"
    ),
}


def _postgres_tamper(request: pytest.FixtureRequest, tmp_path: Path) -> Tamper:
    server, name = _database(request, tmp_path)

    def tamper(sql: str, rows: Sequence[Sequence[Any]] = ()) -> None:
        with server.connect(name) as conn:
            if rows:
                conn.cursor().executemany(sql.replace("?", "%s"), rows)
            else:
                conn.execute(_IN_POSTGRES.get(sql, sql))  # type: ignore[arg-type]

    return tamper


BACKENDS: dict[str, Backend] = {
    "sqlite": Backend(opener=_sqlite_opener, tamper=_sqlite_tamper),
    "postgresql": Backend(opener=_postgres_opener, tamper=_postgres_tamper),
}
"""Every store backend the contract suite runs against, by name."""


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest) -> Backend:
    return BACKENDS[request.param]


@pytest.fixture
def open_store(
    backend: Backend, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Opener]:
    opened: list[interfaces.Store] = []
    opening = backend.opener(request, tmp_path)

    def opener(retention: RetentionSettings | None = None) -> interfaces.Store:
        store = opening(retention)
        opened.append(store)
        return store

    yield opener
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Opener) -> interfaces.Store:
    return open_store()


@pytest.fixture
def tamper(backend: Backend, request: pytest.FixtureRequest, tmp_path: Path) -> Tamper:
    """Runs SQL on the store's database directly, outside the store."""
    return backend.tamper(request, tmp_path)
