"""Queued runs, on every backend: a run is recorded and queued at once; claimers take the
runs of their targets oldest first and never the same run twice, even racing; a run whose
claimer's lease expired (or changed hands) is claimed again, one a live claimer holds is
not; a claimer whose own lease lapsed claims nothing; finishing and releasing a claim;
each kind of work (runs, simulations with their job's payload, optimization runs) claimed
and released apart; a scheduled run queued once however many replicas find it due; a run
nobody has claimed is cancelled where it lies, one a claimer holds is not, and a cancel
racing claimers leaves each run either cancelled or claimed, never both."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import sqlalchemy as sa

from reconciler.runstate import RunKind, RunRecord, RunStatus
from reconciler.store import runqueue
from reconciler.store.interfaces import SimulationStatus, Store
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
    assert store.queued_run("r1") == claimed[0] and store.queued_run("r2") == store.queued_runs()[1]
    assert store.queued_run("r9") is None


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


def test_a_run_nobody_claimed_is_cancelled_where_it_lies_and_a_claimed_one_is_not(
    store: Store,
) -> None:
    plan = f.step("#plan")
    store.enqueue_run(f.run("r1", status=RunStatus.PENDING, steps=(plan,)), target="a", at=f.at(0))
    store.enqueue_run(f.run("r2", status=RunStatus.PENDING), target="a", at=f.at(1))
    token = _replica(store, "one", seconds=2)
    store.claim_runs("one", token=token, targets=["a"], now=f.at(2), limit=1)  # r1 only
    assert store.cancel_unclaimed("r1", at=f.at(3)) is None  # held: its claimer's to cancel
    cancelled = store.cancel_unclaimed("r2", at=f.at(3))
    assert cancelled is not None
    assert (cancelled.status, cancelled.finished_at) == (RunStatus.CANCELLED, f.at(3))
    assert store.get_run("r2") == cancelled
    assert [q.run_id for q in store.queued_runs()] == ["r1"]
    assert store.cancel_unclaimed("r2", at=f.at(4)) is None  # not queued any more
    assert store.cancel_unclaimed("nope", at=f.at(4)) is None
    sim = f.simulation("s1", source="a", status=SimulationStatus.QUEUED)
    payload = {"forge": "github", "number": 7, "base": "main", "head": "refs/pull/7/head"}
    queued = f.run("s1", kind=RunKind.SIMULATION, status=RunStatus.PENDING)
    store.enqueue_simulation(sim, run=queued, target="a", payload=payload, at=f.at(4))
    assert store.cancel_unclaimed("s1", at=f.at(5)) is None  # a simulation: not a run's to end
    assert (store.get_simulation("s1"), store.get_run("s1")) == (sim, queued)
    kept = store.get_run("r1")
    assert kept is not None and (kept.status, kept.steps) == (RunStatus.PENDING, (plan,))


def test_a_cancel_racing_claimers_leaves_each_run_cancelled_or_claimed(
    open_store: Opener,
) -> None:
    claimer, canceller = open_store(), open_store()
    ids = [f"r{n:02}" for n in range(30)]
    for n, run_id in enumerate(ids):
        claimer.enqueue_run(f.run(run_id, status=RunStatus.PENDING), target="a", at=f.at(n))
    token = _replica(claimer, "one", seconds=30)
    start = threading.Barrier(2)

    def claim() -> list[str]:
        start.wait()
        got: list[str] = []
        while batch := claimer.claim_runs("one", token=token, targets=["a"], now=f.at(31), limit=2):
            got += [q.run_id for q in batch]
        return got

    def cancel() -> list[str]:
        start.wait()
        return [r for r in reversed(ids) if canceller.cancel_unclaimed(r, at=f.at(31))]

    with ThreadPoolExecutor(2) as pool:
        claiming, cancelling = pool.submit(claim), pool.submit(cancel)
        claimed, cancelled = claiming.result(), cancelling.result()
    assert sorted(claimed + cancelled) == ids
    assert {q.run_id: q.claimed_by for q in claimer.queued_runs()} == dict.fromkeys(claimed, "one")
    statuses = {r: run.status for r in ids if (run := claimer.get_run(r)) is not None}
    assert statuses == {
        r: RunStatus.CANCELLED if r in cancelled else RunStatus.PENDING for r in ids
    }


def test_each_kind_of_work_is_claimed_and_released_apart(store: Store) -> None:
    store.enqueue_run(f.run("r1", status=RunStatus.PENDING), target="a", at=f.at(0))
    sim = f.simulation("s1", source="a", status=SimulationStatus.QUEUED)
    run = f.run("s1", kind=RunKind.SIMULATION, status=RunStatus.PENDING)
    payload = {"forge": "github", "number": 7, "base": "main", "head": "refs/pull/7/head"}
    store.enqueue_simulation(sim, run=run, target="a", payload=payload, at=f.at(1))
    assert (store.get_simulation("s1"), store.get_run("s1")) == (sim, run)
    token = _replica(store, "one", seconds=2)
    [claimed] = store.claim_runs(
        "one", token=token, targets=["a"], now=f.at(2), kind=runqueue.SIMULATION
    )
    assert (claimed.run_id, claimed.kind, claimed.payload) == ("s1", "simulation", payload)
    assert [q.run_id for q in store.queued_runs(kind=runqueue.RUN)] == ["r1"]
    assert [q.claimed_by for q in store.queued_runs()] == [None, "one"]
    assert store.release_runs("one") == 0  # runs: it holds none
    assert store.release_runs("one", kind=runqueue.SIMULATION) == 1
    [run_claim] = store.claim_runs("one", token=token, targets=["a"], now=f.at(3))
    assert (run_claim.run_id, run_claim.kind, run_claim.payload) == ("r1", "run", None)


def test_a_simulation_is_recorded_with_its_queue_row_or_not_at_all(store: Store) -> None:
    sim = f.simulation("s1", status=SimulationStatus.QUEUED)
    run = f.run("s1", kind=RunKind.SIMULATION, status=RunStatus.PENDING)
    store.enqueue_simulation(sim, run=run, target="a", payload={}, at=f.at(0))
    with pytest.raises(sa.exc.IntegrityError):  # the same id again: nothing of the second is kept
        store.enqueue_simulation(
            f.simulation("s1", status=SimulationStatus.QUEUED, number=8),
            run=run,
            target="b",
            payload={"n": 1},
            at=f.at(1),
        )
    found = store.get_simulation("s1")
    assert found is not None and found.number == 7
    assert [(q.run_id, q.target) for q in store.queued_runs()] == [("s1", "a")]


def _optimization(run_id: str, *, seconds: float, source: str = "a") -> RunRecord:
    return f.run(
        run_id,
        kind=RunKind.OPTIMIZATION,
        name=f"/repos/{source}",
        status=RunStatus.PENDING,
        started_at=f.at(seconds),
        revision=None,
    )


def test_a_scheduled_run_is_queued_once_while_queued_and_once_per_interval(store: Store) -> None:
    first = _optimization("o1", seconds=0)
    assert store.enqueue_once(first, target="a", at=f.at(0), since=f.at(-60))
    # Queued already: another replica finding it due queues nothing.
    assert not store.enqueue_once(
        _optimization("o2", seconds=1), target="a", at=f.at(1), since=f.at(-59)
    )
    assert store.get_run("o2") is None
    token = _replica(store, "one", seconds=2)
    [claimed] = store.claim_runs(
        "one", token=token, targets=["a"], now=f.at(2), kind=runqueue.OPTIMIZATION
    )
    assert claimed.run_id == "o1" and store.finish_run("o1", "one", token=token)
    # Finished, but started within the interval: not due again.
    assert not store.enqueue_once(
        _optimization("o3", seconds=30), target="a", at=f.at(30), since=f.at(-30)
    )
    # Another source's is its own; a whole interval later it is due again.
    assert store.enqueue_once(
        _optimization("o4", seconds=30, source="b"), target="b", at=f.at(30), since=f.at(-30)
    )
    assert store.enqueue_once(
        _optimization("o5", seconds=61), target="a", at=f.at(61), since=f.at(1)
    )
    assert [(q.run_id, q.kind) for q in store.queued_runs()] == [
        ("o4", "optimization"),
        ("o5", "optimization"),
    ]
    # On demand (no interval): only the one queued per target counts.
    assert not store.enqueue_once(_optimization("o6", seconds=62), target="a", at=f.at(62))
    assert store.finish_run("o5", "one", token=token) is False  # nobody's claim yet
    [o5] = store.claim_runs("one", token=token, targets=["a"], now=f.at(3), kind="optimization")
    assert store.finish_run(o5.run_id, "one", token=token)
    assert store.enqueue_once(_optimization("o6", seconds=62), target="a", at=f.at(62))


def test_replicas_racing_to_queue_a_due_run_queue_it_once(open_store: Opener) -> None:
    stores: list[Store] = [open_store() for _ in range(4)]
    start = threading.Barrier(len(stores))

    def race(i: int) -> bool:
        start.wait()
        run = _optimization(f"o{i}", seconds=10)
        return stores[i].enqueue_once(run, target="a", at=f.at(10), since=f.at(-50))

    with ThreadPoolExecutor(len(stores)) as pool:
        queued = list(pool.map(race, range(len(stores))))
    assert queued.count(True) == 1
    assert len(stores[0].queued_runs(kind=runqueue.OPTIMIZATION)) == 1
    assert len(stores[0].list_runs(kind=RunKind.OPTIMIZATION)) == 1
