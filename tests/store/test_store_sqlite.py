"""What only the SQLite backend promises: WAL on disk, schema versions, reopening, sharing
between threads, surviving a writer killed with SIGKILL, and older files brought forward
(the run queue of version 6 among them)."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import store_factories as f

from reconciler import runstate
from reconciler.store import audit, interfaces, runqueue, sqlite
from reconciler.store.children import ChildGroup
from reconciler.store.retention import RetentionSettings
from reconciler.store.sql import schema

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def open_db(path: Path) -> sqlite.SqliteStore:
    return sqlite.SqliteStore(path, retention=RetentionSettings())


def raw(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


def test_a_new_database_is_in_wal_mode_and_stamped_with_the_newest_version(tmp_path: Path) -> None:
    store = open_db(tmp_path / "state.db")
    store.close()
    assert store.schema_version == sqlite.BASELINE + len(sqlite.MIGRATIONS)
    assert raw(tmp_path / "state.db", "PRAGMA journal_mode") == [("wal",)]
    assert raw(tmp_path / "state.db", "SELECT version FROM schema_version") == [(7,)]


def test_reopening_keeps_everything(tmp_path: Path) -> None:
    store = open_db(tmp_path / "state.db")
    store.record_revision("main", f.revision("a"))
    store.put_status(f.status("motd", ready=False, history=2))
    store.append_decisions([f.decision()])
    store.create_run(f.run("r1", steps=(f.step("a"),)))
    event = store.append_event(f.event())
    store.close()
    again = open_db(tmp_path / "state.db")
    assert again.revisions("main") == [f.revision("a")]
    assert again.get_status("File//motd") == f.status("motd", ready=False, history=2)
    assert again.violations() == [f.decision()]
    assert again.get_run("r1") == f.run("r1", steps=(f.step("a"),))
    assert again.events() == [event]
    again.close()


def _migration(name: str, calls: list[str]) -> sqlite.Migration:
    def migrate(connection: Any) -> None:
        calls.append(name)
        connection.exec_driver_sql(f"ALTER TABLE events ADD COLUMN {name} TEXT")

    return migrate


def test_an_older_database_is_migrated_once_keeping_its_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, calls = tmp_path / "state.db", list[str]()
    store = open_db(path)
    event = store.append_event(f.event())
    store.close()
    real = sqlite.MIGRATIONS
    monkeypatch.setattr(sqlite, "MIGRATIONS", (*real, _migration("v8", calls)))
    open_db(path).close()
    monkeypatch.setattr(
        sqlite, "MIGRATIONS", (*real, _migration("v8", calls), _migration("v9", calls))
    )
    store = open_db(path)
    assert (store.schema_version, calls) == (9, ["v8", "v9"])
    assert store.events() == [event]
    store.close()
    open_db(path).close()
    assert calls == ["v8", "v9"]
    assert raw(path, "SELECT version FROM schema_version") == [(9,)]
    assert [c[1] for c in raw(path, "PRAGMA table_info(events)")][-2:] == ["v8", "v9"]


def test_a_version_1_database_gets_the_simulations_table_and_keeps_its_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.db"
    with monkeypatch.context() as patched:  # a database as version 1 made it
        patched.setattr(sqlite, "MIGRATIONS", ())
        patched.setattr(schema.metadata, "create_all", _create_all_but_simulations)
        store = open_db(path)
        event = store.append_event(f.event())
        store.close()
    assert raw(path, "SELECT name FROM sqlite_master WHERE name = 'simulations'") == []
    store = open_db(path)
    assert store.schema_version == 7
    assert store.events() == [event]
    store.put_simulation(f.simulation("s1"))
    assert store.get_simulation("s1") == f.simulation("s1")
    store.close()
    assert raw(path, "SELECT version FROM schema_version") == [(7,)]


def test_a_version_6_run_queue_gets_kinds_and_its_rows_stay_runs(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = open_db(path)
    run = f.run("r1", status=runstate.RunStatus.PENDING)
    store.enqueue_run(run, target="a", at=f.at(0))
    store.close()
    with sqlite3.connect(path) as conn:  # the run_queue table as version 6 had it
        conn.execute("ALTER TABLE run_queue DROP COLUMN kind")
        conn.execute("ALTER TABLE run_queue DROP COLUMN payload")
        conn.execute("UPDATE schema_version SET version = 6")
    store = open_db(path)
    assert store.schema_version == 7
    [queued] = store.queued_runs(kind=runqueue.RUN)
    assert (queued.run_id, queued.kind, queued.payload) == ("r1", "run", None)
    store.close()


def test_a_version_2_database_keeps_its_last_diff_as_the_applied_changes(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.db"
    store = open_db(path)
    status = f.status("motd", ready=True)
    store.put_status(status)
    store.close()
    with sqlite3.connect(path) as conn:  # the object_status table as version 2 had it
        conn.execute("ALTER TABLE object_status RENAME COLUMN applied_changes TO last_diff")
        conn.execute("ALTER TABLE object_status DROP COLUMN drift")
        conn.execute("UPDATE schema_version SET version = 2")
    store = open_db(path)
    assert store.schema_version == 7
    assert store.get_status("File//motd") == replace(status, drift=None)
    store.close()


def test_a_version_4_database_keeps_its_child_groups_as_every_hosts(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    kept = ChildGroup(pgid=321, daemon_pid=10, started_at=f.at(1), owner="run:r/a")
    store = open_db(path)
    store.record_child(replace(kept, host="box", replica="box-1"))
    store.close()
    with sqlite3.connect(path) as conn:  # the child_groups table as version 4 had it
        conn.executescript(
            "CREATE TABLE old AS SELECT pgid, daemon_pid, started_at, owner FROM child_groups;"
            " DROP TABLE child_groups; ALTER TABLE old RENAME TO child_groups;"
            " UPDATE schema_version SET version = 4;"
        )
    store = open_db(path)
    assert store.schema_version == 7
    assert store.children(host="box") == [kept]
    store.record_child(replace(kept, host="box", replica="box-1"))
    assert store.children(host="other") == [kept]
    store.close()


def _create_all_but_simulations(connection: Any, **kwargs: Any) -> None:
    tables = [t for t in schema.metadata.sorted_tables if t.name != "simulations"]
    schema.sa.MetaData.create_all(schema.metadata, connection, tables=tables)


def test_a_failing_migration_leaves_the_database_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.db"
    open_db(path).close()

    def broken(connection: Any) -> None:
        connection.exec_driver_sql("ALTER TABLE events ADD COLUMN half TEXT")
        raise RuntimeError("migration bug")

    monkeypatch.setattr(sqlite, "MIGRATIONS", (*sqlite.MIGRATIONS, broken))
    with pytest.raises(RuntimeError, match="migration bug"):
        open_db(path)
    assert raw(path, "SELECT version FROM schema_version") == [(7,)]
    assert "half" not in [c[1] for c in raw(path, "PRAGMA table_info(events)")]


def test_a_database_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = open_db(path)
    store.append_event(f.event())
    store.close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE schema_version SET version = 9")
    with pytest.raises(interfaces.SchemaVersionError) as raised:
        open_db(path)
    assert str(raised.value) == (
        f"{path}: database schema version 9 is newer than this reconciler supports (7);"
        " open it with a newer reconciler"
    )
    assert raw(path, "SELECT count(*) FROM events") == [(1,)]


def _in_threads(count: int, work: Callable[[int], None]) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def target(index: int) -> None:
        try:
            start.wait()
            work(index)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_writers_on_four_threads_lose_nothing(tmp_path: Path) -> None:
    store = open_db(tmp_path / "state.db")
    store.create_run(f.run("shared"))

    def work(t: int) -> None:
        for i in range(20):
            store.create_run(f.run(f"t{t}-{i}", steps=(f.step("a"),)))
            store.update_step(f"t{t}-{i}", f.step("b"))
            store.update_step("shared", f.step(f"s{i}"))  # every thread writes the same steps
            store.append_decisions([f.decision(name=f"t{t}-{i}-{n}") for n in range(5)])
            store.append_event(f.event(f"t{t}"))
            store.put_status(f.status(f"t{t}-{i}"))

    _in_threads(4, work)
    runs = store.list_runs(limit=1000)
    assert len(runs) == 81
    assert all(len(r.steps) == 2 for r in runs if r.id != "shared")
    shared = store.get_run("shared")
    assert shared is not None and len(shared.steps) == 20
    assert len(list(store.iter_decisions())) == 400 == len(store.violations())
    assert len(store.events(limit=1000)) == 80 == len(store.list_status())
    store.close()


def _start_writer(path: Path, prefix: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), str(ROOT)])}
    return subprocess.Popen(
        [sys.executable, str(HERE / "kill_writer.py"), str(path), prefix],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _kill_while_writing(path: Path, prefix: str, *, rng: random.Random) -> list[str]:
    writer = _start_writer(path, prefix)
    assert writer.stdout is not None and writer.stderr is not None
    committed = []
    for _ in range(rng.randint(3, 12)):
        line = writer.stdout.readline()
        assert line, writer.stderr.read()
        committed.append(line.strip())
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    writer.stdout.close()
    writer.stderr.close()
    assert writer.returncode == -signal.SIGKILL
    return committed


def test_a_writer_killed_mid_write_leaves_only_whole_records(tmp_path: Path) -> None:
    from reconciler.runstate import RunStatus, StepStatus

    path, rng, committed = tmp_path / "state.db", random.Random(7), []
    for round_ in range(3):
        committed += _kill_while_writing(path, f"round{round_}", rng=rng)
    store = open_db(path)
    assert store.integrity_check() == ["ok"]
    runs = {r.id: r for r in store.list_runs(limit=10_000)}
    assert set(committed) <= set(runs)
    for run_id, run in runs.items():
        assert len(run.steps) == 20, run_id  # created with all its steps or not at all
        done = run.status is RunStatus.SUCCEEDED
        assert {s.status for s in run.steps} == {
            StepStatus.SUCCEEDED if done else StepStatus.RUNNING
        }
        assert done or run_id not in committed
    assert len(list(store.iter_decisions())) % 50 == 0
    assert len(list(store.iter_decisions())) >= 50 * len(committed)
    store.close()


def test_a_database_made_before_inputs_were_kept_gets_the_table(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    open_db(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE decision_inputs")
    reopened = open_db(path)
    reopened.put_inputs({"d": "{}"})
    assert reopened.get_inputs(["d"]) == {"d": "{}"}
    reopened.close()


def test_a_version_3_database_gets_the_audit_log_and_keeps_its_events(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    store = open_db(path)
    store.append_event(f.event("ReconcileFinished"))
    store.close()
    with sqlite3.connect(path) as conn:  # as a reconciler before the audit log left it
        conn.executescript("DROP TABLE audit_log; UPDATE schema_version SET version = 3;")
    conn.close()
    store = open_db(path)
    try:
        assert store.schema_version == 7
        assert [e.type for e in store.events()] == ["ReconcileFinished"]
        assert store.verify_audit() == audit.Verification(count=0, head_seq=0, head=audit.GENESIS)
        store.append_event(f.event("ApprovalAnswered"))
        assert [e.seq for e in store.audit_entries()] == [1]
    finally:
        store.close()


def test_a_version_5_database_gets_the_proposal_tables_and_keeps_its_runs(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    store = open_db(path)
    store.create_run(f.run("r1"))
    store.close()
    with sqlite3.connect(path) as conn:  # as a reconciler before proposals had a lifecycle
        conn.executescript(
            "DROP TABLE proposals; DROP TABLE optimization_flags;"
            " UPDATE schema_version SET version = 5;"
        )
    conn.close()
    store = open_db(path)
    try:
        assert store.schema_version == 7
        assert store.get_run("r1") == f.run("r1")
        store.put_flagged("r1", ["binding a never fired"])
        assert store.flagged("r1") == ["binding a never fired"]
        assert store.proposals() == []
    finally:
        store.close()
