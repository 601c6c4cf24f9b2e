"""Replicas whose wall clocks disagree, on a real PostgreSQL: leases are stamped and expire
by the database's clock (`leases.LeaseClock`), so a replica running 30 s ahead does not
take another's live source lease or its claimed runs early, while a replica that stops
beating still loses both once the ttl has passed on the database's clock. Each test also
shows what the fast replica's own clock would have done: taken them at once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from reconciler.clock import Clock, SystemClock
from reconciler.reconcile import replicas
from reconciler.reconcile.replicas import Membership
from reconciler.runstate import RunStatus
from reconciler.store.leases import REPLICA, LeaseClock
from reconciler.store.postgres import PostgresStore
from reconciler.store.retention import RetentionSettings
from reconciler.store.sqlite import SqliteStore
from tests.postgres import Server
from tests.store import store_factories as f

TTL = timedelta(seconds=2)
AHEAD = timedelta(seconds=30)
# A source the fast replica "b" is preferred for once both are live: it would claim it.
SOURCE = next(s for s in (f"s{n}" for n in range(100)) if replicas.preferred(s, ["a", "b"]) == "b")


class AheadClock:
    """The real clock, `AHEAD` fast: a replica whose wall clock runs ahead."""

    def now(self) -> datetime:
        return SystemClock().now() + AHEAD

    def monotonic(self) -> float:
        return time.monotonic()


@pytest.fixture
def stores(postgres: Server) -> Iterator[tuple[PostgresStore, PostgresStore]]:
    url = postgres.url(postgres.database())
    slow, fast = (PostgresStore(url, retention=RetentionSettings()) for _ in range(2))
    yield slow, fast
    slow.close()
    fast.close()


def _member(name: str, store: PostgresStore, clock: Clock) -> Membership:
    return Membership(name=name, ttl=TTL, store=store, clock=clock, sources=[SOURCE])


def _after_ttl(store: PostgresStore, since: datetime) -> None:
    """Wait until the ttl has passed since `since` on the database's clock."""
    for _ in range(300):  # 30 s at most: the ttl is 2 s
        now = store.database_now()
        assert now is not None
        if now - since > TTL:
            return
        time.sleep(0.1)
    raise AssertionError(f"the database's clock did not pass {since + TTL}")


def test_the_database_clock_is_read_on_postgresql_and_the_callers_on_sqlite(
    stores: tuple[PostgresStore, PostgresStore], tmp_path: Path
) -> None:
    slow, _ = stores
    first = slow.database_now()
    assert first is not None and first.utcoffset() == timedelta(0)
    assert abs(first - SystemClock().now()) < AHEAD  # the server runs on this machine
    assert LeaseClock(slow, fallback=AheadClock()).now() - first < AHEAD
    sqlite = SqliteStore(tmp_path / "state.db", retention=RetentionSettings())
    try:
        assert sqlite.database_now() is None
        ahead = LeaseClock(sqlite, fallback=AheadClock()).now() - SystemClock().now()
        assert ahead > AHEAD - timedelta(seconds=5)
    finally:
        sqlite.close()


def test_a_fast_replica_does_not_take_a_live_lease_its_own_clock_finds_expired(
    stores: tuple[PostgresStore, PostgresStore],
) -> None:
    slow_store, fast_store = stores
    a = _member("a", slow_store, LeaseClock(slow_store, fallback=SystemClock()))
    b = _member("b", fast_store, LeaseClock(fast_store, fallback=AheadClock()))
    assert set(a.beat().gained) == {SOURCE}
    assert b.beat().gained == {}  # b is preferred, but a's lease is live by the database
    assert a.held() == [SOURCE] and b.held() == [] and b.elsewhere(SOURCE)
    assert sorted(b.live_replicas()) == ["a", "b"]

    by_own_clock = _member("b", fast_store, AheadClock())  # b's own clock: taken at once
    assert by_own_clock.beat().gained[SOURCE].token == 2


@pytest.mark.parametrize("ahead", ["dead", "survivor"])
def test_a_dead_replicas_lease_is_taken_over_after_the_ttl_on_the_database_clock(
    stores: tuple[PostgresStore, PostgresStore], ahead: str
) -> None:
    """Whichever wall clock runs ahead — the survivor's (it would take over early) or the
    dead replica's (its stamps would keep its lease 30 s past the ttl) — the takeover
    comes after the ttl on the database's clock."""
    dead_store, survivor_store = stores
    dead_wall = AheadClock() if ahead == "dead" else SystemClock()
    survivor_wall = AheadClock() if ahead == "survivor" else SystemClock()
    a = _member("a", dead_store, LeaseClock(dead_store, fallback=dead_wall))
    b = _member("b", survivor_store, LeaseClock(survivor_store, fallback=survivor_wall))
    beat = a.beat()
    taken = dead_store.database_now()
    assert taken is not None and beat.gained[SOURCE].token == 1
    assert b.beat().gained == {}  # a is live: not before the ttl
    _after_ttl(survivor_store, taken)  # a was killed: it beats no more
    gained = b.beat().gained
    assert gained[SOURCE].token == 2 and b.held() == [SOURCE]
    assert not a.beat().gained and a.held() == []  # a, back, finds it lost


def test_claimed_runs_follow_the_same_rule(stores: tuple[PostgresStore, PostgresStore]) -> None:
    slow_store, fast_store = stores
    slow = LeaseClock(slow_store, fallback=SystemClock())
    fast = LeaseClock(fast_store, fallback=AheadClock())
    a = slow_store.acquire(REPLICA + "a", "a", ttl=TTL, now=slow.now())
    b = fast_store.acquire(REPLICA + "b", "b", ttl=TTL * 100, now=fast.now())
    assert a == 1 and b == 1
    run = f.run("r1", status=RunStatus.PENDING)
    slow_store.enqueue_run(run, target=SOURCE, at=slow.now())
    [claimed] = slow_store.claim_runs("a", token=a, targets=[SOURCE], now=slow.now())
    claimed_at = claimed.claimed_at
    assert claimed_at is not None

    assert fast_store.claim_runs("b", token=b, targets=[SOURCE], now=fast.now()) == []
    own = AheadClock().now()  # b's own clock finds a's replica lease expired already
    [stolen] = fast_store.claim_runs("b", token=b, targets=[SOURCE], now=own)
    assert stolen.claimed_by == "b"
    fast_store.release_runs("b")  # undo the early steal; a claims its run back
    assert slow_store.claim_runs("a", token=a, targets=[SOURCE], now=slow.now())

    _after_ttl(fast_store, claimed_at)  # a stops renewing its replica lease
    [taken] = fast_store.claim_runs("b", token=b, targets=[SOURCE], now=fast.now())
    assert (taken.run_id, taken.claimed_by) == ("r1", "b")
