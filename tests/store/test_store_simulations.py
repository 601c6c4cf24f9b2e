"""The `Store` contract for simulations: reports round-trip, lists filter and order, and
retention bounds finished simulations while queued and running ones stay; a simulation and
its run are written in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
import store_factories as f

from reconciler.runstate import RunKind, RunStatus
from reconciler.store import interfaces
from reconciler.store.retention import RetentionReport, RetentionSettings

Opener = Callable[..., interfaces.Store]
NOW = f.at(10_000)
QUEUED, RUNNING = interfaces.SimulationStatus.QUEUED, interfaces.SimulationStatus.RUNNING


def test_a_simulation_round_trips_every_field(store: interfaces.Store) -> None:
    simulation = f.simulation("s1", forge_error="POST check-runs answered 403")
    store.put_simulation(simulation)
    assert store.get_simulation("s1") == simulation
    assert store.get_simulation("absent") is None


def test_putting_a_simulation_again_replaces_it(store: interfaces.Store) -> None:
    queued = f.simulation(
        "s1",
        status=QUEUED,
        blocked=False,
        conclusion=None,
        report=None,
        markdown=(),
        finished_at=None,
    )
    store.put_simulation(queued)
    store.put_simulation(f.simulation("s1"))
    assert store.list_simulations() == [f.simulation("s1")]


def test_simulations_are_listed_newest_first_and_filtered(store: interfaces.Store) -> None:
    store.put_simulation(f.simulation("old", seconds=0))
    store.put_simulation(f.simulation("new", seconds=10))
    store.put_simulation(f.simulation("other-pr", number=8, seconds=5))
    store.put_simulation(f.simulation("other-source", source="infra", seconds=6))
    store.put_simulation(f.simulation("running", status=RUNNING, finished_at=None, seconds=1))
    assert [s.id for s in store.list_simulations()] == [
        "new",
        "other-source",
        "other-pr",
        "running",
        "old",
    ]
    assert [s.id for s in store.list_simulations(source="main", number=7)] == [
        "new",
        "running",
        "old",
    ]
    assert [s.id for s in store.list_simulations(status=RUNNING)] == ["running"]
    assert [s.id for s in store.list_simulations(limit=2)] == ["new", "other-source"]


def test_finished_simulations_are_bounded_by_count_and_age(open_store: Opener) -> None:
    store = open_store(
        RetentionSettings(max_simulations=2, simulation_max_age=timedelta(seconds=1_000))
    )
    for i in range(4):
        store.put_simulation(f.simulation(f"s{i}", seconds=9_000 + i))
    store.put_simulation(f.simulation("ancient", seconds=0))
    assert store.apply_retention(now=NOW) == RetentionReport(simulations=3)
    assert [s.id for s in store.list_simulations()] == ["s3", "s2"]


def test_queued_and_running_simulations_are_never_pruned(open_store: Opener) -> None:
    store = open_store(
        RetentionSettings(max_simulations=1, simulation_max_age=timedelta(seconds=1))
    )
    waiting = replace(f.simulation("waiting", seconds=0), status=QUEUED, finished_at=None)
    running = replace(f.simulation("running", seconds=0), status=RUNNING, finished_at=None)
    store.put_simulation(waiting)
    store.put_simulation(running)
    assert store.apply_retention(now=NOW).simulations == 0
    assert {s.id for s in store.list_simulations()} == {"waiting", "running"}


def test_stored_reports_are_bounded_in_total_the_oldest_dropped_first(
    store: interfaces.Store,
) -> None:
    big = {"base": "a" * 40, "head": "b" * 40, "blocked": True, "errors": [], "pad": "x" * 4_000}
    for i in range(4):
        store.put_simulation(f.simulation(f"s{i}", seconds=i, report=big, markdown=("y" * 3_000,)))
    waiting = replace(
        f.simulation("waiting", seconds=0, report=big, markdown=("y" * 3_000,)),
        status=QUEUED,
        finished_at=None,
    )
    store.put_simulation(waiting)
    assert store.trim_simulation_reports(max_bytes=15_000) == 2
    kept = {s.id: (s.report is not None, s.markdown) for s in store.list_simulations()}
    assert kept == {
        "s3": (True, ("y" * 3_000,)),
        "s2": (True, ("y" * 3_000,)),
        "s1": (False, ()),
        "s0": (False, ()),
        "waiting": (True, ("y" * 3_000,)),
    }
    dropped = store.get_simulation("s0")
    assert dropped is not None
    assert (dropped.status, dropped.summary) == (
        interfaces.SimulationStatus.SUCCEEDED,
        "would be blocked: 1 newly denied strict decision(s)",
    )
    assert store.trim_simulation_reports(max_bytes=15_000) == 0


def test_a_simulation_and_its_run_are_recorded_in_one_transaction(
    store: interfaces.Store,
) -> None:
    queued = f.simulation("s1", status=interfaces.SimulationStatus.QUEUED, finished_at=None)
    store.record_simulation(queued, run=f.run("s1", kind=RunKind.SIMULATION, steps=()))
    done = f.run(
        "s1", kind=RunKind.SIMULATION, status=RunStatus.SUCCEEDED, steps=(f.step("simulate"),)
    )
    store.record_simulation(f.simulation("s1"), run=done)
    assert (store.get_simulation("s1"), store.get_run("s1")) == (f.simulation("s1"), done)
    naive = replace(done, status=RunStatus.FAILED, finished_at=datetime(2026, 3, 1, 12))
    failed = f.simulation("s1", status=interfaces.SimulationStatus.FAILED)
    with pytest.raises(ValueError):
        store.record_simulation(failed, run=naive)
    assert (store.get_simulation("s1"), store.get_run("s1")) == (f.simulation("s1"), done)
