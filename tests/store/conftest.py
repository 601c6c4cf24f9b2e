"""The store contract runs once per backend: every test taking `store` or `open_store` is
parametrised over `BACKENDS`.

A backend joins the whole suite by adding one entry to `BACKENDS`: a function that, given
the test's temporary directory, returns an opener. The opener opens (or, called again,
reopens) the same store with the retention settings given, so tests can check what
survives a reopen. Tests of one backend's own promises (a file, WAL, migrations of old
files) live in their own modules (`test_store_sqlite.py`) and open that backend directly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reconciler.store import interfaces, sqlite
from reconciler.store.retention import RetentionSettings

Opener = Callable[..., interfaces.Store]


def _sqlite(tmp_path: Path) -> Opener:
    def opener(retention: RetentionSettings | None = None) -> interfaces.Store:
        return sqlite.SqliteStore(tmp_path / "state.db", retention=retention or RetentionSettings())

    return opener


BACKENDS: dict[str, Callable[[Path], Opener]] = {"sqlite": _sqlite}
"""Every store backend the contract suite runs against, by name."""


@pytest.fixture(params=sorted(BACKENDS))
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    opened: list[interfaces.Store] = []
    backend = BACKENDS[request.param](tmp_path)

    def opener(retention: RetentionSettings | None = None) -> interfaces.Store:
        store = backend(retention)
        opened.append(store)
        return store

    yield opener
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Opener) -> interfaces.Store:
    return open_store()
