"""A simulation and its run are written together: whoever reads the store sees both queued
or both finished, never one without the other (a dashboard poll between two separate
writes used to find the run finished while its simulation was still running)."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from reconciler.clock import ManualClock
from reconciler.reconcile.daemon import Daemon
from reconciler.reconcile.settings import DaemonSettings, DaemonSource
from reconciler.reconcile.simulations import runs as simulation_run
from reconciler.runstate import RunStatus
from reconciler.store.interfaces import SimulationStatus
from reconciler.store.retention import RetentionSettings
from reconciler.store.sqlite import SqliteStore

NOW = datetime(2026, 6, 1, tzinfo=UTC)
Seen = tuple[SimulationStatus | None, RunStatus | None]


class WatchedStore(SqliteStore):
    """The real SQLite store; after each committed write it notes what a reader would find
    of one simulation and its run at that moment."""

    def __init__(self, path: Path, *, watch: str) -> None:
        super().__init__(path, retention=RetentionSettings())
        self.watch, self.seen = watch, list[Seen]()

    @contextlib.contextmanager
    def _write(self, *, doing: str = "write") -> Iterator[Any]:
        with super()._write(doing=doing) as conn:
            yield conn
        if doing == "write":
            simulation, run = self.get_simulation(self.watch), self.get_run(self.watch)
            self.seen.append(
                (
                    None if simulation is None else simulation.status,
                    None if run is None else run.status,
                )
            )


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    (tmp_path / "data").mkdir()
    store = WatchedStore(tmp_path / "data" / "reconciler.db", watch="sim-1")
    running = Daemon(
        DaemonSettings(data_dir=tmp_path / "data"), clock=ManualClock(NOW), store=store
    )
    yield running
    store.close()


def test_a_simulation_and_its_run_are_queued_and_finished_together(daemon: Daemon) -> None:
    job = simulation_run.Job(
        id="sim-1",
        source=DaemonSource(name="main", path=Path("/srv/repo")),
        forge="api",
        base="a" * 40,
        head="b" * 40,
    )
    queued = simulation_run.queued(job, context=daemon.simulations.context)
    done = dataclasses.replace(
        queued, status=SimulationStatus.SUCCEEDED, summary="would pass", finished_at=NOW
    )
    simulation_run.finish(done, context=daemon.simulations.context, started=NOW)
    store = daemon.store
    assert isinstance(store, WatchedStore)
    assert set(store.seen) == {
        (SimulationStatus.QUEUED, RunStatus.PENDING),
        (SimulationStatus.SUCCEEDED, RunStatus.SUCCEEDED),
    }
    run = store.get_run("sim-1")
    assert run is not None and [(s.name, s.status.value) for s in run.steps] == [
        ("simulate", "succeeded")
    ]
