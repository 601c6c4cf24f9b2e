"""Orphans of a killed daemon: a recorded child group that finishes within the bound is
waited for (its work completes), one that does not is killed with its whole group, and
either way its row is forgotten. Children are real processes in their own sessions."""

from __future__ import annotations

import asyncio
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from reconciler.run import orphans
from reconciler.store import sqlite
from reconciler.store.children import ChildGroup

DEAD_DAEMON = 2**22 + 1  # a pid no daemon here has


def _spawn(script: str, *args: str) -> subprocess.Popen[bytes]:
    """Start `script` in a new session (its pid is its group id). The test does not wait
    for it before `reap`: until then it is as unattended as a dead daemon's child."""
    return subprocess.Popen(["sh", "-c", script, "sh", *args], start_new_session=True)


def _record(store: sqlite.SqliteStore, pgid: int, owner: str) -> ChildGroup:
    child = ChildGroup(
        pgid=pgid, daemon_pid=DEAD_DAEMON, started_at=datetime(2026, 1, 1, tzinfo=UTC), owner=owner
    )
    store.record_child(child)
    return child


def test_an_orphan_that_finishes_within_the_bound_is_waited_for(
    store: sqlite.SqliteStore, tmp_path: Path
) -> None:
    log = tmp_path / "apply.log"
    go = tmp_path / "go"
    script = 'while [ ! -e "$1" ]; do sleep 0.01; done; echo applied >> "$2"'
    proc = _spawn(script, str(go), str(log))
    pgid = proc.pid
    child = _record(store, pgid, "object:File/default/a")
    go.touch()
    reaped = asyncio.run(orphans.reap(store, own_pid=1, wait=60))
    assert reaped == [orphans.Reaped(child, killed=False)]
    assert log.read_text() == "applied\n"
    assert not orphans.alive(pgid)
    assert store.children() == []
    assert proc.wait() == 0


def test_an_orphan_past_the_bound_is_killed_with_its_group(
    store: sqlite.SqliteStore, tmp_path: Path
) -> None:
    log = tmp_path / "apply.log"
    # the leader starts a grandchild in the same group; both must die
    proc = _spawn('sleep 600 & sleep 600; echo applied >> "$1"', str(log))
    pgid = proc.pid
    _record(store, pgid, "run:r-1/apply")
    assert orphans.alive(pgid)
    reaped = asyncio.run(orphans.reap(store, own_pid=1, wait=0))
    assert [(r.child.owner, r.killed) for r in reaped] == [("run:r-1/apply", True)]
    assert not orphans.alive(pgid)
    assert not log.exists()
    assert store.children() == []
    assert proc.wait() == -9


def test_the_current_daemons_own_children_are_left_alone(
    store: sqlite.SqliteStore, tmp_path: Path
) -> None:
    proc = _spawn("sleep 600")
    pgid = proc.pid
    started = datetime(2026, 1, 1, tzinfo=UTC)
    store.record_child(ChildGroup(pgid=pgid, daemon_pid=4242, started_at=started, owner="x"))
    try:
        assert asyncio.run(orphans.reap(store, own_pid=4242, wait=0)) == []
        assert orphans.alive(pgid)
        assert [c.pgid for c in store.children()] == [pgid]
    finally:
        asyncio.run(orphans.settle(store.children()[0], wait=0))
        proc.wait()


def test_a_command_steps_group_is_in_the_store_while_it_runs_and_gone_after(
    store: sqlite.SqliteStore, tmp_path: Path
) -> None:
    from reconciler.clock import SystemClock
    from tests.run.helpers import engine, until, workflow

    release = tmp_path / "release"
    wait = 'while [ ! -e "$1" ]; do sleep 0.02; done'
    spec = workflow([{"name": "wait", "command": ["sh", "-c", wait, "sh", str(release)]}])

    async def scenario() -> tuple[list[ChildGroup], str]:
        ledger = orphans.StoreLedger(store, clock=SystemClock(), pid=4242)
        eng = engine(store, children=ledger)
        try:
            run_id = await eng.start(spec)
            await until(lambda: bool(store.children()))
            running = store.children()
            release.touch()
            await eng.wait(run_id)
            return running, run_id
        finally:
            await eng.close()

    running, run_id = asyncio.run(scenario())
    [child] = running
    assert (child.owner, child.daemon_pid) == (f"run:{run_id}/wait", 4242)
    assert not orphans.alive(child.pgid)
    assert store.children() == []


def test_a_live_replicas_groups_and_other_hosts_groups_are_left_alone(
    store: sqlite.SqliteStore, tmp_path: Path
) -> None:
    procs = [_spawn("sleep 600") for _ in range(3)]
    started = datetime(2026, 1, 1, tzinfo=UTC)
    dead, live, elsewhere = (
        ChildGroup(pgid=p.pid, daemon_pid=100 + n, started_at=started, owner="x", host=h, replica=r)
        for n, (p, h, r) in enumerate(
            zip(procs, ["box", "box", "far"], ["box-100", "box-101", "far-102"], strict=True)
        )
    )
    for child in (dead, live, elsewhere):
        store.record_child(child)
    try:
        reaped = asyncio.run(
            orphans.reap(store, own_pid=4242, wait=0, host="box", live=lambda: {"box-101"})
        )
        assert reaped == [orphans.Reaped(dead, killed=True)]
        assert [orphans.alive(p.pid) for p in procs] == [False, True, True]
        assert store.children() == [live, elsewhere]
    finally:
        for child in store.children():
            asyncio.run(orphans.settle(child, wait=0))
        for proc in procs:
            proc.wait()
