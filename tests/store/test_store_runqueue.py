"""Queued runs, on every backend: a run is recorded and queued at once; claimers take the
runs of their targets oldest first and never the same run twice, even racing; a run whose
claimer's lease expired (or changed hands) is claimed again, one a live claimer holds is
not; a claimer whose own lease lapsed claims nothing; finishing and releasing a claim."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from reconciler.runstate import RunStatus
from reconciler.store.interfaces import Store
from reconciler.store.leases import REPLICA, LeaseLost
from tests.store import store_factories as f
from tests.store.conftest import Opener

TTL = timedelta(seconds=15)


def _replica(store: Store, name: str, *, seconds: float) -> int:
    token = store.acquire(REPLICA + name, name, ttl=TTL, now=f.at(seconds))
    assert token is not None
    return token


def test_a_run_is_recorded_and_queued_together_and_claimed_for_its_target(
    open_store: Opener,
) -> None:
    store = open_store()
    run = f.run("r1", status=RunStatus.PENDING, steps=(f.step("#plan"),))
    store.enqueue_run(run, target="a", at=f.at(0))
    store.enqueue_run(f.run("r2", status=RunStatus.PENDING), target="b", at=f.at(1))
    store.enqueue_run(f.run("r3", status=RunStatus.PENDING), target="a", at=f.at(2))
    assert store.get_run("r1") == run
    store.close()
    store = open_store()
    token = _replica(store, "one", seconds=3)
    claimed = store.claim_runs("one", token=token, targets=["a", "c"], now=f.at(3))
    assert [(q.run_id, q.target, q.queued_at) for q in claimed] == [
        ("r1", "a", f.at(0)),
        ("r3", "a", f.at(2)),
    ]
    assert {(q.claimed_by, q.claim_token, q.claimed_at) for q in claimed} == {
        ("one", token, f.at(3))
    }
    assert store.claim_runs("one", token=token, targets=["a"], now=f.at(4)) == []
    assert store.claim_runs("one", token=token, targets=[], now=f.at(4)) == []
    assert [q.run_id for q in store.queued_runs()] == ["r1", "r2", "r3"]


def test_racing_claimers_never_take_the_same_run(open_store: Opener) -> None:
    stores: list[Store] = [open_store() for _ in range(4)]
    for n in range(40):
        stores[0].enqueue_run(f.run(f"r{n}", status=RunStatus.PENDING), target="a", at=f.at(n))
    tokens = {f"c{i}": _replica(stores[0], f"c{i}", seconds=40) for i in range(len(stores))}
    start = threading.Barrier(len(stores))

    def drain(i: int) -> list[str]:
        name, got = f"c{i}", []
        start.wait()
        while batch := stores[i].claim_runs(
            name, token=tokens[name], targets=["a"], now=f.at(41), limit=3
        ):
            got += [q.run_id for q in batch]
        return got

    with ThreadPoolExecutor(len(stores)) as pool:
        claimed = [r for got in pool.map(drain, range(len(stores))) for r in got]
    assert sorted(claimed) == sorted(f"r{n}" for n in range(40))
    holders = {q.run_id: q.claimed_by for q in stores[0].queued_runs()}
    assert all(holders[r] is not None for r in claimed)


def test_a_dead_claimers_run_is_claimed_again_after_its_lease_expires(store: Store) -> None:
    store.enqueue_run(f.run("r1", status=RunStatus.PENDING), target="a", at=f.at(0))
    dead = _replica(store, "dead", seconds=0)
    assert [q.run_id for q in store.claim_runs("dead", token=dead, targets=["a"], now=f.at(1))]
    heir = _replica(store, "heir", seconds=5)
    # The claimer's lease is live until 15 s: its run is its own.
    assert store.claim_runs("heir", token=heir, targets=["a"], now=f.at(14)) == []
    assert store.renew(REPLICA + "heir", "heir", token=heir, ttl=TTL, now=f.at(14))
    [taken] = store.claim_runs("heir", token=heir, targets=["a"], now=f.at(15))
    assert (taken.run_id, taken.claimed_by, taken.claim_token) == ("r1", "heir", heir)
    # The dead claimer, back with a new token, neither finishes nor reclaims it.
    back = _replica(store, "dead", seconds=16)
    assert back != dead
    assert not store.finish_run("r1", "dead", token=dead)
    assert store.claim_runs("dead", token=back, targets=["a"], now=f.at(16)) == []
    assert store.finish_run("r1", "heir", token=heir)
    assert store.queued_runs() == []


def test_a_claim_under_a_token_that_changed_hands_is_free(store: Store) -> None:
    store.enqueue_run(f.run("r1", status=RunStatus.PENDING), target="a", at=f.at(0))
    first = _replica(store, "one", seconds=0)
    store.claim_runs("one", token=first, targets=["a"], now=f.at(1))
    second = _replica(store, "one", seconds=20)  # lapsed, then came back: a new token
    assert second == first + 1
    [again] = store.claim_runs("one", token=second, targets=["a"], now=f.at(20))
    assert (again.run_id, again.claim_token) == ("r1", second)


def test_a_claimer_whose_own_lease_lapsed_claims_nothing(store: Store) -> None:
    store.enqueue_run(f.run("r1", status=RunStatus.PENDING), target="a", at=f.at(0))
    token = _replica(store, "one", seconds=0)
    with pytest.raises(LeaseLost) as lost:
        store.claim_runs("one", token=token, targets=["a"], now=f.at(15))
    assert str(lost.value) == (
        "lease replica:one: token 1 is no longer current (not held); the write was refused"
    )
    with pytest.raises(LeaseLost):
        store.claim_runs("never", token=1, targets=["a"], now=f.at(1))
    assert [q.claimed_by for q in store.queued_runs()] == [None]


def test_released_claims_are_free_at_once(store: Store) -> None:
    for n in range(3):
        store.enqueue_run(f.run(f"r{n}", status=RunStatus.PENDING), target="a", at=f.at(n))
    one, two = _replica(store, "one", seconds=3), _replica(store, "two", seconds=3)
    assert len(store.claim_runs("one", token=one, targets=["a"], now=f.at(3), limit=2)) == 2
    assert len(store.claim_runs("two", token=two, targets=["a"], now=f.at(3))) == 1
    assert store.release_runs("one") == 2
    assert [q.run_id for q in store.claim_runs("two", token=two, targets=["a"], now=f.at(4))] == [
        "r0",
        "r1",
    ]
    assert {q.claimed_by for q in store.queued_runs()} == {"two"}
