"""A simulation on a daemon whose store is PostgreSQL replays the decision log and reads the
observed state as one on SQLite does: the daemon copies them into a SQLite file of the
simulation's own, which the sandbox reads and which is gone when the simulation ends."""

from __future__ import annotations

from pathlib import Path

from reconciler.reconcile.simulations import store_copy
from reconciler.store.postgres import PostgresStore
from reconciler.store.retention import RetentionSettings
from reconciler.store.sqlite import SqliteStore
from tests.postgres import Server
from tests.simulate.conftest import PullRequest, record_decisions
from tests.store.store_factories import status


def _flips(pr: PullRequest, data_dir: Path | None) -> dict[tuple[str, str], tuple[int, list[str]]]:
    report = pr.simulate(data_dir=data_dir)
    assert report.replay is not None
    return {
        (f.binding, f.direction): (f.count, [e.key for e in f.examples])
        for f in report.replay.flips
    }


def test_a_simulation_on_a_postgresql_store_replays_what_one_on_sqlite_replays(
    pr: PullRequest, postgres: Server, tmp_path: Path
) -> None:
    shared = PostgresStore(postgres.url(postgres.database()), retention=RetentionSettings())
    embedded_dir = tmp_path / "embedded"
    embedded_dir.mkdir()
    embedded = SqliteStore(embedded_dir / "reconciler.db", retention=RetentionSettings())
    try:
        for store in (shared, embedded):
            record_decisions(store, pr.repo, revision=pr.base, passes=2)
        bindings = (pr.repo / "policies/bindings.yaml").read_text()
        pr.change({"policies/bindings.yaml": bindings.replace("    min: 2\n", "    min: 1\n")})
        daemon_dir = tmp_path / "daemon"
        with store_copy.sandbox_data_dir(shared, data_dir=daemon_dir) as copied:
            assert copied is not None and copied.parent == daemon_dir / "simulations"
            from_shared = _flips(pr, copied)
        with store_copy.sandbox_data_dir(embedded, data_dir=embedded_dir) as own:
            assert own == embedded_dir  # the daemon's own file, not a copy
            from_embedded = _flips(pr, own)
    finally:
        shared.close()
        embedded.close()
    assert from_shared == from_embedded
    assert ("replica-bounds", "deny->allow") in from_shared
    assert not copied.exists()  # removed when the simulation ended


def test_the_copy_holds_every_status_decision_and_kept_input(
    pr: PullRequest, postgres: Server, tmp_path: Path
) -> None:
    shared = PostgresStore(postgres.url(postgres.database()), retention=RetentionSettings())
    try:
        logged, without = record_decisions(shared, pr.repo, revision=pr.base, passes=3)
        shared.put_statuses([status(f"f{i}", ready=i != 1, history=2) for i in range(3)])
        copied = store_copy.copy_for_replay(shared, tmp_path / "copy.db", batch=7)
        want = list(shared.iter_decisions_with_inputs())
        want_statuses = shared.list_status()
    finally:
        shared.close()
    copy = SqliteStore(tmp_path / "copy.db", retention=RetentionSettings())
    try:
        got = list(copy.iter_decisions_with_inputs())
        assert copied == logged == len(got)
        assert [(d, text) for d, text in got] == want
        assert sum(text is None for _, text in got) == without
        assert copy.list_status() == want_statuses
    finally:
        copy.close()
