"""Queued work, on every backend: taken oldest first, only for the targets asked, once —
racing takers never get the same row — and kept across a reopen until taken; several
kinds taken together come interleaved in the order they were queued."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from reconciler.store.interfaces import Store
from reconciler.store.queue import ANSWER, RUN_ACTION, SYNC
from tests.store import store_factories as f
from tests.store.conftest import Opener


def test_work_is_taken_oldest_first_for_the_targets_asked_and_once(open_store: Opener) -> None:
    store = open_store()
    first = store.enqueue(SYNC, "a", payload={"reason": "webhook"}, at=f.at(0))
    store.enqueue(SYNC, "b", payload={"reason": "manual"}, at=f.at(1))
    third = store.enqueue(SYNC, "a", payload={"reason": "manual"}, at=f.at(2))
    store.enqueue("other", "a", payload={}, at=f.at(3))
    store.close()
    store = open_store()
    taken = store.take(SYNC, targets=["a", "c"])
    assert [(w.id, w.target, w.payload, w.queued_at) for w in taken] == [
        (first, "a", {"reason": "webhook"}, f.at(0)),
        (third, "a", {"reason": "manual"}, f.at(2)),
    ]
    assert store.take(SYNC, targets=["a"]) == []
    assert store.take(SYNC, targets=[]) == []
    assert [w.target for w in store.take(SYNC, targets=["a", "b"])] == ["b"]
    assert [w.kind for w in store.take("other", targets=["a"])] == ["other"]


def test_several_kinds_are_taken_together_oldest_first(store: Store) -> None:
    first = store.enqueue(RUN_ACTION, "r1", payload={"action": "pause"}, at=f.at(0))
    second = store.enqueue(ANSWER, "r1", payload={"step": "s"}, at=f.at(1))
    store.enqueue(SYNC, "r1", payload={}, at=f.at(2))
    third = store.enqueue(RUN_ACTION, "r1", payload={"action": "resume"}, at=f.at(3))
    taken = store.take((RUN_ACTION, ANSWER), targets=["r1"])
    assert [(w.id, w.kind) for w in taken] == [
        (first, RUN_ACTION),
        (second, ANSWER),
        (third, RUN_ACTION),
    ]
    assert [w.kind for w in store.take((RUN_ACTION, SYNC), targets=["r1"])] == [SYNC]


def test_racing_takers_share_the_work_without_overlap(open_store: Opener) -> None:
    stores: list[Store] = [open_store() for _ in range(4)]
    ids = {stores[0].enqueue(SYNC, "a", payload={}, at=f.at(n)) for n in range(40)}

    def drain(store: Store) -> list[int]:
        got: list[int] = []
        while batch := store.take(SYNC, targets=["a"], limit=3):
            got += [w.id for w in batch]
        return got

    with ThreadPoolExecutor(len(stores)) as pool:
        taken = [i for got in pool.map(drain, stores) for i in got]
    assert sorted(taken) == sorted(ids)


def test_a_firing_is_claimed_once_and_the_next_after_the_quiet_time(open_store: Opener) -> None:
    first, second = open_store(), open_store()
    quiet = timedelta(seconds=54)
    assert first.claim("workflow:sweep:0", at=f.at(0), quiet=quiet)
    assert not second.claim("workflow:sweep:0", at=f.at(20), quiet=quiet)  # the same firing
    assert second.claim("workflow:other:0", at=f.at(20), quiet=quiet)
    assert not first.claim("workflow:sweep:0", at=f.at(53), quiet=quiet)
    assert second.claim("workflow:sweep:0", at=f.at(54), quiet=quiet)  # the next period's
    assert not first.claim("workflow:sweep:0", at=f.at(60), quiet=quiet)
