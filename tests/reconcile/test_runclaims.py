"""A replica's side of the run queue, on a real SQLite store and real leases: it claims
only the runs of the sources it owns, under the token its own lease had at its first
claim, and claims nothing once that lease lapsed and came back with another token; an
approval for a run another replica holds is forwarded to that replica (a child run by
its top-level run), and one for a run nobody else holds is not; the same lookup names the
replica that holds a run asked to be steered elsewhere."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from reconciler.clock import ManualClock
from reconciler.reconcile.replicas import Membership
from reconciler.reconcile.runclaims import (
    RunClaims,
    RunHeldElsewhere,
    forward_answer,
    held_elsewhere,
    queued_entry,
)
from reconciler.runstate import RunStatus
from reconciler.store import queue
from reconciler.store.retention import RetentionSettings
from reconciler.store.sqlite import SqliteStore
from tests.store import store_factories as f

TTL = timedelta(seconds=15)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "state.db", retention=RetentionSettings())
    yield opened
    opened.close()


def _replica(name: str, store: SqliteStore, clock: ManualClock) -> tuple[Membership, RunClaims]:
    membership = Membership(name=name, ttl=TTL, store=store, clock=clock, sources=["a", "b"])
    claims = RunClaims(
        name=name,
        store=store,
        clock=clock,
        own_fence=membership.own_fence,
        owned=membership.held,
    )
    return membership, claims


def test_a_replica_claims_the_runs_of_its_sources_under_its_first_token(
    store: SqliteStore,
) -> None:
    clock = ManualClock()
    membership, claims = _replica("one", store, clock)
    assert claims.claim() == []  # no heartbeat yet: no lease, no claim
    membership.beat()
    assert membership.held() == ["a", "b"]
    claims.queue(f.run("r1", status=RunStatus.PENDING), target="a")
    claims.queue(f.run("r2", status=RunStatus.PENDING), target="c")  # not a source of ours
    fence = claims.fence()
    assert fence is not None and fence.name == "replica:one"
    assert [q.run_id for q in claims.claim(["b"])] == []
    [claimed] = claims.claim()
    assert (claimed.run_id, claimed.claimed_by, claimed.claim_token) == ("r1", "one", fence.token)
    claims.finish("r1")
    assert [q.run_id for q in store.queued_runs()] == ["r2"]


def test_a_replica_whose_lease_lapsed_claims_nothing_more(store: SqliteStore) -> None:
    clock = ManualClock()
    membership, claims = _replica("one", store, clock)
    membership.beat()
    first = claims.fence()
    clock.advance(TTL.total_seconds() + 1)  # a pause past the ttl
    membership.beat()  # its lease comes back with a new token
    own = membership.own_fence()
    assert first is not None and own is not None and own.token == first.token + 1
    claims.queue(f.run("r1", status=RunStatus.PENDING), target="a")
    assert claims.claim() == []
    assert claims.fence() == first  # its runs' writes stay fenced by the lapsed token
    assert [q.claimed_by for q in store.queued_runs()] == [None]


def test_an_answer_is_forwarded_to_the_replica_holding_the_run(store: SqliteStore) -> None:
    clock = ManualClock()
    one, one_claims = _replica("one", store, clock)
    two, two_claims = _replica("two", store, clock)
    one.beat()
    two.beat()
    one_claims.queue(f.run("r1", status=RunStatus.PENDING), target="a")
    one_claims.queue(f.run("r2", status=RunStatus.PENDING), target="zzz")  # nobody's source
    assert [q.run_id for q in one_claims.claim()] == ["r1"]
    answer = {"approver": "oncall", "approved": True, "comment": "", "role": None}
    assert forward_answer(store, two_claims, run_id="r1/book#1", step="s", answer=answer) == "one"
    assert forward_answer(store, one_claims, run_id="r1", step="s", answer=answer) is None
    assert forward_answer(store, two_claims, run_id="r2", step="s", answer=answer) is None
    assert forward_answer(store, two_claims, run_id="r9", step="s", answer=answer) is None
    assert held_elsewhere(store, two_claims, "r1/book#1") == "one"
    assert [held_elsewhere(store, one_claims, "r1"), held_elsewhere(store, two_claims, "r2")] == [
        None,
        None,
    ]
    held, waiting = queued_entry(store, "r1/book#1"), queued_entry(store, "r2")
    assert held is not None and waiting is not None and queued_entry(store, "r9") is None
    assert str(RunHeldElsewhere("r1/book#1", queued=held)) == (
        "run r1/book#1 is held by replica one: steer it there, or once the source's owner"
        " has taken it over"
    )
    assert str(RunHeldElsewhere("r2", queued=waiting)) == (
        "run r2 is queued for the owner of source zzz: steer it there"
    )
    [work] = store.take(queue.ANSWER, targets=["r1/book#1"])
    assert work.payload == {"step": "s", **answer}
