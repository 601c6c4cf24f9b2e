"""The store contract runs once per backend: every test taking `store` or `open_store` is
parametrised over `BACKENDS`.

A backend joins the whole suite by adding one entry to `BACKENDS`: a `Backend` whose
`opener`, given the test's temporary directory, returns a function that opens (or, called
again, reopens) the same store with the retention settings given, so tests can check what
survives a reopen; and whose `tamper` runs SQL on that database behind the store's back, as
an attacker or an older reconciler would (the audit tests write it in SQLite's dialect; a
backend translates what it must). Tests of one backend's own promises (a file, WAL,
migrations of old files) live in their own modules (`test_store_sqlite.py`) and open that
backend directly.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reconciler.store import interfaces, sqlite
from reconciler.store.retention import RetentionSettings

Opener = Callable[..., interfaces.Store]
Tamper = Callable[..., None]  # (sql, rows=()): one statement per row, or a script without


@dataclass(frozen=True, kw_only=True)
class Backend:
    opener: Callable[[Path], Opener]
    tamper: Callable[[Path], Tamper]


def _sqlite_opener(tmp_path: Path) -> Opener:
    def opener(retention: RetentionSettings | None = None) -> interfaces.Store:
        return sqlite.SqliteStore(tmp_path / "state.db", retention=retention or RetentionSettings())

    return opener


def _sqlite_tamper(tmp_path: Path) -> Tamper:
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


BACKENDS: dict[str, Backend] = {
    "sqlite": Backend(opener=_sqlite_opener, tamper=_sqlite_tamper),
}
"""Every store backend the contract suite runs against, by name."""


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest) -> Backend:
    return BACKENDS[request.param]


@pytest.fixture
def open_store(backend: Backend, tmp_path: Path) -> Iterator[Opener]:
    opened: list[interfaces.Store] = []
    opening = backend.opener(tmp_path)

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
def tamper(backend: Backend, tmp_path: Path) -> Tamper:
    """Runs SQL on the store's database directly, outside the store."""
    return backend.tamper(tmp_path)
