"""Child process groups: a recorded group outlives a reopen (a daemon killed with -9), is
listed apart from the current daemon's own, and is gone once forgotten."""

from __future__ import annotations

from dataclasses import replace

from reconciler.store import interfaces
from reconciler.store.children import ChildGroup
from tests.store.conftest import Opener
from tests.store.store_factories import at


def _child(pgid: int, *, daemon_pid: int, seconds: float) -> ChildGroup:
    return ChildGroup(
        pgid=pgid, daemon_pid=daemon_pid, started_at=at(seconds), owner=f"run:r-{pgid}/apply"
    )


def test_a_recorded_group_survives_a_reopen_and_is_listed_for_the_next_daemon(
    open_store: Opener,
) -> None:
    store = open_store()
    store.record_child(_child(500, daemon_pid=10, seconds=2))
    store.record_child(_child(400, daemon_pid=10, seconds=1))
    store.record_child(_child(600, daemon_pid=11, seconds=3))
    store.close()
    reopened = open_store()
    assert reopened.children(other_than=11) == [
        _child(400, daemon_pid=10, seconds=1),
        _child(500, daemon_pid=10, seconds=2),
    ]
    assert [c.pgid for c in reopened.children()] == [400, 500, 600]


def test_a_forgotten_group_is_gone_and_a_reused_pgid_replaces_the_old_row(
    store: interfaces.Store,
) -> None:
    store.record_child(_child(700, daemon_pid=10, seconds=1))
    store.record_child(_child(700, daemon_pid=12, seconds=5))
    assert store.children() == [_child(700, daemon_pid=12, seconds=5)]
    store.forget_child(700)
    assert store.children() == []


def test_groups_are_kept_per_host_and_listed_for_their_host(store: interfaces.Store) -> None:
    here = replace(_child(700, daemon_pid=10, seconds=1), host="a", replica="a-10")
    there = replace(_child(700, daemon_pid=20, seconds=2), host="b", replica="b-20")
    store.record_child(here)
    store.record_child(there)  # the same pgid on another host is another group
    assert store.children(host="a") == [here]
    assert store.children(host="b", other_than=20) == []
    assert store.children() == [here, there]
    store.forget_child(700, host="b")
    assert store.children() == [here]
