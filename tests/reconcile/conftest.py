"""Fixtures of the reconcile tests; the harness itself is in `helpers`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from reconciler.clock import ManualClock
from reconciler.reconcile.settings import ReconcileSettings
from reconciler.store.retention import RetentionSettings
from reconciler.store.sqlite import SqliteStore
from tests import gitrepo
from tests.reconcile.helpers import Harness, MakeHarness


@pytest.fixture
def make_harness(tmp_path: Path) -> Iterator[MakeHarness]:
    made: list[Harness] = []

    def make(files: Mapping[str, str], *, self_heal: bool = True) -> Harness:
        repo = tmp_path / "repo"
        gitrepo.make_repo(repo, files)
        harness = Harness(
            root=tmp_path,
            repo=repo,
            out=tmp_path / "out",
            clock=ManualClock(),
            store=SqliteStore(tmp_path / "state.db", retention=RetentionSettings()),
            settings=ReconcileSettings(self_heal=self_heal),
            pool=ThreadPoolExecutor(2),
        )
        harness.start()
        made.append(harness)
        return harness

    yield make
    for harness in made:
        harness.store.close()
        harness.pool.shutdown()


@pytest.fixture
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    return folder
