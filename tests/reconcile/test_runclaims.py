"""A replica's side of the run queue, on a real SQLite store and real leases: it claims
only the runs of the sources it owns, under the token its own lease had at its first
claim, and claims nothing once that lease lapsed and came back with another token; an
action on a run another replica holds (an answer, a cancel, a pause, a resume) is
forwarded to that replica (a child run by its top-level run), one on a run nobody has
claimed yet to its source's owner, and one on a run no other replica holds is not; a
cancel of a run nobody has claimed is done in the store, one of a finished run is refused
naming its status, one of an unknown run is not found."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from reconciler.clock import ManualClock
from reconciler.reconcile import runactions
from reconciler.reconcile.replicas import Membership
from reconciler.reconcile.runclaims import RunClaims, Steered, forward, queued_entry, steer
from reconciler.runstate import RunStatus
from reconciler.store import queue
from reconciler.store.interfaces import RunNotFound
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


def test_an_action_is_forwarded_to_the_replica_holding_the_run(store: SqliteStore) -> None:
    clock = ManualClock()
    one, one_claims = _replica("one", store, clock)
    two, two_claims = _replica("two", store, clock)
    one.beat()
    two.beat()
    one_claims.queue(f.run("r1", status=RunStatus.PENDING), target="a")
    one_claims.queue(f.run("r2", status=RunStatus.PENDING), target="zzz")  # nobody's source
    assert [q.run_id for q in one_claims.claim()] == ["r1"]
    answer = {"step": "s", "approver": "oncall", "approved": True, "comment": "", "role": None}
    assert forward(store, two_claims, run_id="r1/book#1", action="answer", given=answer) == "one"
    assert forward(store, two_claims, run_id="r1", action="pause") == "one"
    assert forward(store, one_claims, run_id="r1", action="pause") is None  # its own
    assert forward(store, two_claims, run_id="r2", action="resume") == "source:zzz"
    assert forward(store, two_claims, run_id="r9", action="pause") is None  # not queued
    held, waiting = queued_entry(store, "r1/book#1"), queued_entry(store, "r2")
    assert held is not None and waiting is not None and queued_entry(store, "r9") is None
    assert (held.run_id, waiting.run_id) == ("r1", "r2")
    taken = store.take(queue.RUN_ACTION, targets=["r1/book#1", "r1", "r2"])
    assert [(w.target, w.payload) for w in taken] == [
        ("r1/book#1", {"action": "answer", **answer}),
        ("r1", {"action": "pause"}),
        ("r2", {"action": "resume"}),
    ]


def test_steering_a_run_not_live_here(store: SqliteStore) -> None:
    clock = ManualClock()
    one, one_claims = _replica("one", store, clock)
    two, two_claims = _replica("two", store, clock)
    one.beat()
    two.beat()
    for run_id, target in (("r1", "a"), ("r2", "zzz"), ("r3", "zzz")):
        one_claims.queue(f.run(run_id, status=RunStatus.PENDING), target=target)
    store.create_run(f.run("done", status=RunStatus.SUCCEEDED))
    assert [q.run_id for q in one_claims.claim()] == ["r1"]
    assert steer(store, two_claims, run_id="r1", action="cancel") == Steered(forwarded_to="one")
    assert steer(store, one_claims, run_id="r1", action="cancel") is None  # its own: act
    assert steer(store, two_claims, run_id="r2", action="pause") == Steered(
        forwarded_to="source:zzz"
    )
    clock.advance(5)
    steered = steer(store, two_claims, run_id="r3", action="cancel")
    assert steered is not None and steered.forwarded_to is None
    cancelled = store.get_run("r3")
    assert cancelled is not None
    assert steered.cancelled == cancelled  # handed back for its outcome to be published
    assert (cancelled.status, cancelled.finished_at) == (RunStatus.CANCELLED, clock.now())
    assert [q.run_id for q in store.queued_runs()] == ["r1", "r2"]
    with pytest.raises(runactions.RunFinished) as finished:
        steer(store, two_claims, run_id="r3", action="resume")
    assert str(finished.value) == "run r3 has finished (cancelled): it cannot resume now"
    with pytest.raises(runactions.RunFinished) as finished:
        steer(store, one_claims, run_id="done", action="cancel")
    assert str(finished.value) == "run done has finished (succeeded): it cannot cancel now"
    with pytest.raises(RunNotFound) as missing:
        steer(store, one_claims, run_id="r9", action="pause")
    assert str(missing.value) == "run 'r9' does not exist"
    taken = store.take(queue.RUN_ACTION, targets=["r1", "r2", "r3"])
    assert [(w.target, w.payload) for w in taken] == [
        ("r1", {"action": "cancel"}),
        ("r2", {"action": "pause"}),
    ]
