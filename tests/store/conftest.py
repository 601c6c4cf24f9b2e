"""The store contract runs once per backend: `open_store` opens (or reopens) the same store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reconciler.store import interfaces, sqlite
from reconciler.store.retention import RetentionSettings

Opener = Callable[..., interfaces.Store]


@pytest.fixture(params=["sqlite"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    opened: list[interfaces.Store] = []

    def opener(retention: RetentionSettings | None = None) -> interfaces.Store:
        store = sqlite.SqliteStore(
            tmp_path / "state.db", retention=retention or RetentionSettings()
        )
        opened.append(store)
        return store

    assert request.param == "sqlite"
    yield opener
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Opener) -> interfaces.Store:
    return open_store()
