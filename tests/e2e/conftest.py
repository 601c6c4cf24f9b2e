"""Fixtures for the end-to-end tests: a daemon launcher that never leaves a process behind."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from tests.e2e import harness

Launch = Callable[..., harness.RunningDaemon]


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Launch]:
    """`launch(args, env=..., name=...)` starts `reconciler serve ARGS`; stopped at teardown."""
    started: list[harness.RunningDaemon] = []

    def run(
        args: Sequence[str], *, env: dict[str, str] | None = None, name: str = "daemon"
    ) -> harness.RunningDaemon:
        daemon = harness.start(args, tmp=tmp_path, env=env, name=name)
        started.append(daemon)
        return daemon

    yield run
    for daemon in started:
        daemon.stop()
