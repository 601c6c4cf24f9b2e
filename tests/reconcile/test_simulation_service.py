"""The daemon's simulation service with a real SQLite store and a real git repository: the
daemon builds it, fails at start what a stopped daemon left unfinished (but never what it
has queued itself meanwhile), and cancels what is still waiting when it stops."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reconciler.clock import SystemClock
from reconciler.events import Bus
from reconciler.reconcile.daemon import Daemon
from reconciler.reconcile.settings import DaemonSettings, DaemonSource, UnknownSource
from reconciler.reconcile.simulations import runs, service
from reconciler.runstate import RunStatus
from reconciler.store.interfaces import SimulationRecord, SimulationStatus, Store
from reconciler.store.sqlite import SqliteStore
from tests import gitrepo


@pytest.fixture
def settings(tmp_path: Path) -> DaemonSettings:
    repo = tmp_path / "repo"
    gitrepo.make_repo(repo, {"README.md": "policies\n"})
    return DaemonSettings.model_validate(
        {
            "dataDir": str(tmp_path / "data"),
            "sources": [{"name": "policies", "path": str(repo), "ref": "main", "interval": "1h"}],
        }
    )


@pytest.fixture
def daemon(settings: DaemonSettings) -> Iterator[Daemon]:
    made = Daemon(settings, clock=SystemClock())
    yield made
    made.simulations.close()
    made.store.close()


def _job(source: DaemonSource, *, head: str = "no-such-branch") -> runs.Job:
    return runs.Job(id=str(uuid.uuid4()), source=source, forge="api", base="main", head=head)


def _finished(store: Store, sim_id: str) -> SimulationRecord:
    for _ in range(1500):
        found = store.get_simulation(sim_id)
        assert found is not None
        if found.status not in (SimulationStatus.QUEUED, SimulationStatus.RUNNING):
            return found
        time.sleep(0.02)
    raise AssertionError(f"simulation {sim_id} did not finish")


class Hold:
    """`runs.execute` that waits until released, so a simulation stays running."""

    def __init__(self, execute: Callable[..., SimulationRecord]) -> None:
        self.execute = execute
        self.started, self.release = threading.Event(), threading.Event()

    def __call__(self, job: runs.Job, *, context: runs.Context) -> SimulationRecord:
        self.started.set()
        assert self.release.wait(30)
        return self.execute(job, context=context)


def test_the_daemon_fails_at_start_the_simulations_a_stopped_daemon_left(
    settings: DaemonSettings,
) -> None:
    settings.data_dir.mkdir()
    before = SqliteStore(settings.data_dir / "reconciler.db", retention=settings.retention)
    context = runs.Context(
        store=before,
        clock=SystemClock(),
        bus=Bus(),
        data_dir=settings.data_dir,
        limits=settings.simulations,
        forges=settings.forges,
    )
    source = settings.sources[0]
    left = [_job(source), _job(source)]
    queued = [runs.queued(job, context=context) for job in left]
    before.put_simulation(dataclasses.replace(queued[1], status=SimulationStatus.RUNNING))
    before.close()

    async def start_then_stop() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(Daemon(settings, clock=SystemClock()).run(stop))
        await asyncio.sleep(0)
        stop.set()
        await task

    asyncio.run(start_then_stop())
    store = SqliteStore(settings.data_dir / "reconciler.db", retention=settings.retention)
    try:
        for job in left:
            found = store.get_simulation(job.id)
            run = store.get_run(job.id)
            assert found is not None and run is not None
            assert (found.status, found.summary) == (SimulationStatus.FAILED, service.INTERRUPTED)
            assert (run.status, run.error) == (RunStatus.FAILED, service.INTERRUPTED)
    finally:
        store.close()


def test_recovery_leaves_alone_what_the_service_runs_and_queues_and_stop_cancels_the_queue(
    daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    hold = Hold(runs.execute)
    monkeypatch.setattr(runs, "execute", hold)
    source = daemon.settings.sources[0]
    first = daemon.simulations.submit(_job(source))
    assert hold.started.wait(30)
    second = daemon.simulations.submit(_job(source))

    daemon.simulations.recover()  # a start racing the first requests: both are this service's
    statuses = [daemon.store.get_simulation(i) for i in (first, second)]
    assert [s.status if s else None for s in statuses] == [SimulationStatus.QUEUED] * 2

    daemon.simulations.close()
    cancelled = daemon.store.get_simulation(second)
    assert cancelled is not None
    assert (cancelled.status, cancelled.summary) == (SimulationStatus.CANCELLED, service.STOPPED)
    hold.release.set()
    done = _finished(daemon.store, first)
    assert done.status is SimulationStatus.FAILED
    assert done.summary.startswith('could not simulate: revision "no-such-branch" not found')


def test_a_simulation_of_a_source_not_configured_is_refused_naming_the_known_ones(
    daemon: Daemon,
) -> None:
    with pytest.raises(UnknownSource) as caught:
        daemon.simulations.start(source="nope", base="main", head="main")
    assert str(caught.value) == 'no source named "nope" (known: policies)'
    assert daemon.store.list_simulations(limit=10) == []
