"""The one writer of run records.

Every producer of runs writes through a `RunLog`: reconcile passes (`reconcile.recording`),
workflow, runbook and remediation executions (through the engine's batching
`run.recorder.Recorder`, which commits its groups here), pull-request simulations (whose
record and run are written in one transaction), the CLI's copy of a runbook run into a
data directory, and the daemon's start-up, which closes what a killed daemon left running.
A run is created `started` (`runstate.started`: not finished, no error), updated with its
newest fields and step attempts, and ended `finished` (`runstate.finished`: a finished
status, when, why it failed), each one transaction of the store's `Runs` role.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from reconciler import runstate
from reconciler.runstate import RunRecord, RunStatus, StepRecord
from reconciler.store.interfaces import Runs, SimulationRecord, Simulations


class RunStore(Runs, Simulations, Protocol):
    """The store roles run records are written through."""


class RunLog:
    def __init__(self, store: RunStore) -> None:
        self._store = store

    def create(self, run: RunRecord) -> None:
        """Record a new run (with the steps it carries)."""
        self._store.create_run(run)

    def update(self, run: RunRecord) -> None:
        """Write the run's fields and upsert the step attempts it carries."""
        self._store.update_run(run)

    def step(self, run_id: str, step: StepRecord) -> None:
        """Upsert one step attempt of a run."""
        self._store.update_step(run_id, step)

    def finish(
        self,
        run: RunRecord,
        *,
        status: RunStatus,
        at: datetime,
        error: str | None = None,
        steps: tuple[StepRecord, ...] | None = None,
    ) -> RunRecord:
        """End `run` (`runstate.finished`) and write it; returns what was written."""
        ended = runstate.finished(run, status=status, at=at, error=error, steps=steps)
        self._store.update_run(ended)
        return ended

    def with_simulation(self, simulation: SimulationRecord, *, run: RunRecord) -> None:
        """Write a simulation and its run together, in one transaction."""
        self._store.record_simulation(simulation, run=run)
