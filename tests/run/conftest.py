"""Fixtures for the workflow engine tests: a real SQLite store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.store import sqlite
from reconciler.store.retention import RetentionSettings


@pytest.fixture
def store(tmp_path: Path) -> Iterator[sqlite.SqliteStore]:
    opened = sqlite.SqliteStore(tmp_path / "state.db", retention=RetentionSettings())
    yield opened
    opened.close()
