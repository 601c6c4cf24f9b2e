"""The `Store` contract for proposals' lifecycles and runs' flagged bindings, on every
backend: a proposal round-trips every field and is replaced by id, lists newest first and
filter by state, type and subject, and survives a reopen; flagged bindings are kept in
order with their run, need the run, and go when retention prunes it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
import store_factories as f

from reconciler.runstate import RunKind, RunStatus
from reconciler.store import interfaces
from reconciler.store.proposals import ProposalEntry
from reconciler.store.retention import RetentionSettings

Opener = Callable[..., interfaces.Store]


def proposal(proposal_id: str, *, seconds: float = 0, **changes: object) -> ProposalEntry:
    fields: dict[str, object] = dict(
        id=proposal_id,
        type="optimization",
        subject="sizing/web-cpu",
        branch=f"optimize/web-cpu-{proposal_id}",
        commit="c" * 40,
        base="b" * 40,
        state="proposed",
        proposed_at=f.at(seconds),
        updated_at=f.at(seconds),
    )
    return ProposalEntry(**{**fields, **changes})  # type: ignore[arg-type]


def test_a_proposal_round_trips_every_field(store: interfaces.Store) -> None:
    landed = proposal(
        "p1",
        state="landed",
        updated_at=f.at(60),
        landed_by="merge",
        landed_commit="d" * 40,
        landed_at=f.at(30),
    )
    store.put_proposal(landed)
    assert store.get_proposal("p1") == landed
    assert store.get_proposal("absent") is None


def test_putting_a_proposal_again_replaces_it(store: interfaces.Store) -> None:
    store.put_proposal(proposal("p1"))
    closed = proposal("p1", state="closed", updated_at=f.at(5), closed_reason="branch deleted")
    store.put_proposal(closed)
    assert store.proposals() == [closed]


def test_proposals_are_listed_newest_first_and_filtered(store: interfaces.Store) -> None:
    old = proposal("p1", seconds=0, state="landed")
    new = proposal("p2", seconds=10)
    other = proposal("p3", seconds=5, subject="interval/main", type="recommendation")
    for entry in (new, old, other):
        store.put_proposal(entry)
    assert store.proposals() == [new, other, old]
    assert store.proposals(limit=2) == [new, other]
    assert store.proposals(states=("proposed", "blocked")) == [new, other]
    assert store.proposals(states=()) == []
    assert store.proposals(type="optimization") == [new, old]
    assert store.proposals(subject="sizing/web-cpu", states=("landed",)) == [old]


def test_proposals_and_flags_survive_a_reopen(open_store: Opener) -> None:
    store = open_store()
    store.create_run(f.run("r1", kind=RunKind.OPTIMIZATION))
    store.put_proposal(proposal("p1"))
    store.put_flagged("r1", ["policy a never fired"])
    store.close()
    again = open_store()
    assert again.proposals() == [proposal("p1")]
    assert again.flagged("r1") == ["policy a never fired"]


def test_flagged_bindings_are_kept_in_order_and_replaced(store: interfaces.Store) -> None:
    store.create_run(f.run("r1", kind=RunKind.OPTIMIZATION))
    store.create_run(f.run("r2", kind=RunKind.OPTIMIZATION))
    store.put_flagged("r1", ["zeta never fired", "alpha never fired"])
    store.put_flagged("r2", ["beta never fired"])
    assert store.flagged("r1") == ["zeta never fired", "alpha never fired"]
    store.put_flagged("r1", [])
    assert store.flagged("r1") == []
    assert store.flagged("r2") == ["beta never fired"]
    assert store.flagged("absent") == []


def test_flagging_needs_the_run(store: interfaces.Store) -> None:
    with pytest.raises(interfaces.RunNotFound, match="run 'absent' does not exist"):
        store.put_flagged("absent", ["policy a never fired"])
    assert store.flagged("absent") == []


def test_flagged_bindings_go_when_retention_prunes_their_run(open_store: Opener) -> None:
    store = open_store(RetentionSettings(max_runs=1))
    for number in (1, 2):
        run = f.run(f"r{number}", kind=RunKind.OPTIMIZATION, status=RunStatus.SUCCEEDED)
        store.create_run(replace(run, finished_at=f.at(number)))
        store.put_flagged(f"r{number}", [f"binding {number} never fired"])
    report = store.apply_retention(now=f.at(10))
    assert report.runs == 1
    assert store.flagged("r1") == []
    assert store.flagged("r2") == ["binding 2 never fired"]
