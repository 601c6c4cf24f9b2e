"""Writes to a store in a loop until killed; prints each run id once its write committed.

Run as `python kill_writer.py DB PREFIX`; run ids start with PREFIX. Each loop creates a run
with STEPS steps in one call, finishes it with another, and appends a batch of BATCH
decisions: a SIGKILL at any point must leave only whole records behind.
"""

from __future__ import annotations

import sys
from dataclasses import replace

import store_factories as f

from reconciler import runstate
from reconciler.store import sqlite
from reconciler.store.retention import RetentionSettings

STEPS = 20
BATCH = 50


def main(path: str, prefix: str) -> None:
    store = sqlite.SqliteStore(path, retention=RetentionSettings())
    for i in range(1_000_000):
        run = f.run(
            f"{prefix}-{i}",
            steps=tuple(f.step(f"s{n}", status=runstate.StepStatus.RUNNING) for n in range(STEPS)),
        )
        store.create_run(run)
        done = tuple(replace(s, status=runstate.StepStatus.SUCCEEDED) for s in run.steps)
        store.update_run(
            replace(run, status=runstate.RunStatus.SUCCEEDED, steps=done, finished_at=f.at(i))
        )
        store.append_decisions([f.decision(name=f"r{i}-{n}", seconds=i) for n in range(BATCH)])
        print(run.id, flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
