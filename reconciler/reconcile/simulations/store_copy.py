"""The daemon's store as a simulation's sandbox reads it.

The sandbox process (`simulate.sandbox`) takes the observed state (the objects' statuses)
and the decision log it replays from the SQLite file of a data directory, and nothing else:
it evaluates a pull request's untrusted content, so it gets files, never a connection to
the daemon's database. With the embedded store that file is the daemon's own. With a shared
PostgreSQL store the daemon first copies the statuses and the decision log, with the inputs
it kept, into a SQLite file in a directory of its own under the data directory, hands that
directory to the sandbox and removes it when the simulation ends. The copy is read and
written by the daemon (trusted code) and costs one pass over the log, as the replay does.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from reconciler.policy.decisions import Decision
from reconciler.simulate.simulation import STORE_FILE
from reconciler.store.interfaces import Store
from reconciler.store.retention import RetentionSettings
from reconciler.store.sqlite import SqliteStore


@contextlib.contextmanager
def sandbox_data_dir(store: Store, *, data_dir: Path) -> Iterator[Path | None]:
    """The data directory whose `reconciler.db` the sandbox reads: the daemon's own for the
    embedded store (None when it has none yet), else a copy made for this simulation."""
    if isinstance(store, SqliteStore):
        yield data_dir if (data_dir / STORE_FILE).is_file() else None
        return
    parent = data_dir / "simulations"
    parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="store-", dir=parent) as scratch:
        copy_for_replay(store, Path(scratch) / STORE_FILE)
        yield Path(scratch)


def copy_for_replay(store: Store, path: Path, *, batch: int = 1000) -> int:
    """Copy `store`'s statuses and decision log (oldest first, with kept inputs) into a new
    SQLite store at `path`; how many decisions were copied."""
    copy = SqliteStore(path, retention=RetentionSettings())
    try:
        copy.put_statuses(store.list_status())
        copied = 0
        decisions: list[Decision] = []
        inputs: dict[str, str] = {}
        for decision, text in store.iter_decisions_with_inputs(batch=batch):
            decisions.append(decision)
            if text is not None and decision.input_digest:
                inputs[decision.input_digest] = text
            if len(decisions) >= batch:
                copied += copy.append_decisions(decisions, inputs=inputs)
                decisions, inputs = [], {}
        return copied + copy.append_decisions(decisions, inputs=inputs)
    finally:
        copy.close()
