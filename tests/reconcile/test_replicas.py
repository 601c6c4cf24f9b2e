"""Replicas sharing one store (real PostgreSQL, as several daemons would): every source is
owned by exactly one live replica, spread by rendezvous hashing; a replica that stops
beating loses its sources after the lease ttl, to replicas that get new fencing tokens and
whose takeover fences the old holder's writes out; a joining replica is handed the sources
it is preferred for between passes, or after one ttl of passes in flight."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from reconciler.clock import ManualClock
from reconciler.reconcile import replicas
from reconciler.reconcile.replicas import Membership
from reconciler.store.leases import LeaseLost
from reconciler.store.postgres import PostgresStore
from reconciler.store.retention import RetentionSettings
from tests.postgres import Server
from tests.store import store_factories as f

TTL = timedelta(seconds=15)
SOURCES = [f"s{n}" for n in range(12)]


@pytest.fixture
def store(postgres: Server) -> Iterator[PostgresStore]:
    opened = PostgresStore(postgres.url(postgres.database()), retention=RetentionSettings())
    yield opened
    opened.close()


def _replica(name: str, store: PostgresStore, clock: ManualClock, **busy: bool) -> Membership:
    return Membership(
        name=name,
        ttl=TTL,
        store=store,
        clock=clock,
        sources=SOURCES,
        busy=lambda source: busy.get(source, False),
    )


def _owners(members: list[Membership]) -> dict[str, str]:
    found: dict[str, str] = {}
    for member in members:
        for source in member.held():
            assert source not in found, f"{source} held by {found[source]} and {member.name}"
            found[source] = member.name
    return found


def test_one_replica_owns_every_source_at_its_first_beat(store: PostgresStore) -> None:
    clock = ManualClock()
    alone = _replica("a", store, clock)
    beat = alone.beat()
    assert sorted(beat.gained) == sorted(SOURCES) and beat.lost == frozenset()
    assert {fence.token for fence in beat.gained.values()} == {1}
    assert alone.beat().gained == {}  # renewed, nothing new


def test_three_replicas_split_the_sources_by_rendezvous_hashing(store: PostgresStore) -> None:
    clock = ManualClock()
    members = [_replica(name, store, clock) for name in ("a", "b", "c")]
    for _ in range(2):  # the first beats register the replicas, the next ones settle
        for member in members:
            member.beat()
    owners = _owners(members)
    assert owners == {s: replicas.preferred(s, ["a", "b", "c"]) for s in SOURCES}
    assert set(owners.values()) == {"a", "b", "c"}


def test_a_stopped_replicas_sources_move_after_the_ttl_and_its_writes_are_fenced_out(
    store: PostgresStore,
) -> None:
    clock = ManualClock()
    members = [_replica(name, store, clock) for name in ("a", "b", "c")]
    for _ in range(2):
        for member in members:
            member.beat()
    dead = members[0]
    orphaned = dead.held()
    old_fence = dead.fence(orphaned[0])
    assert old_fence is not None
    clock.advance(TTL.total_seconds() - 1)
    for member in members[1:]:
        assert member.beat().gained == {}  # still a's: its leases are live
    clock.advance(1)
    gained = {s: fence for member in members[1:] for s, fence in member.beat().gained.items()}
    assert sorted(gained) == orphaned
    assert all(fence.token == 2 for fence in gained.values())
    assert _owners(members[1:]) == {s: replicas.preferred(s, ["b", "c"]) for s in SOURCES}
    with pytest.raises(LeaseLost):
        store.fenced(lambda: old_fence).put_status(f.status("motd"))
    assert store.get_status("File//motd") is None
    assert dead.beat().lost == frozenset(orphaned)  # it wakes up: renewals fail
    assert dead.held() == []


def test_a_joining_replica_is_handed_its_sources_between_passes(store: PostgresStore) -> None:
    clock = ManualClock()
    running: set[str] = set()
    first = Membership(
        name="a", ttl=TTL, store=store, clock=clock, sources=SOURCES, busy=running.__contains__
    )
    first.beat()
    joining = _replica("b", store, clock)
    assert joining.beat().gained == {}  # registers b; a still holds everything
    theirs = sorted(s for s in SOURCES if replicas.preferred(s, ["a", "b"]) == "b")
    running.update(theirs[:2])
    assert sorted(first.beat().lost) == theirs[2:]  # the busy ones stay until their pass ends
    assert sorted(joining.beat().gained) == theirs[2:]
    running.remove(theirs[0])
    assert sorted(first.beat().lost) == theirs[:1]
    assert sorted(joining.beat().gained) == theirs[:1]
    assert first.beat().lost == frozenset()  # theirs[1] busy at three beats in a row
    assert first.beat().lost == {theirs[1]}  # a loaded replica hands over after a ttl anyway
    assert sorted(joining.beat().gained) == theirs[1:2]
    assert _owners([first, joining]) == {s: replicas.preferred(s, ["a", "b"]) for s in SOURCES}
