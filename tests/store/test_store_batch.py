"""`batch()`: the writes a thread makes inside it are one transaction, seen by others all
at once when it ends and not at all when it raises; a batch inside a batch joins it; other
threads' writes stay their own."""

from __future__ import annotations

import threading

import pytest
import store_factories as f

from reconciler.store import interfaces
from reconciler.store.intents import ApplyIntent
from tests.store.conftest import Opener


def _intent(key: str) -> ApplyIntent:
    return ApplyIntent(key=key, source="s", revision="r1", at=f.at(0))


def _write_three(store: interfaces.Store) -> None:
    store.append_decisions([f.decision(policy="p1", name="web")])
    store.intend_apply([_intent("File//motd")])
    store.put_statuses([f.status("motd")])


def test_writes_in_a_batch_are_seen_together_when_it_ends(open_store: Opener) -> None:
    store, other = open_store(), open_store()
    with store.batch():
        _write_three(store)
        with store.batch():  # a nested batch joins the outer one
            store.put_status(f.status("issue"))
        assert other.decisions() == []
        assert other.apply_intents("s") == {}
        assert other.get_status("File//motd") is None
        assert other.get_status("File//issue") is None
    assert [d.policy for d in other.decisions()] == ["p1"]
    assert list(other.apply_intents("s")) == ["File//motd"]
    assert other.get_status("File//motd") == f.status("motd")
    assert other.get_status("File//issue") == f.status("issue")


def test_a_batch_that_raises_writes_nothing(store: interfaces.Store) -> None:
    with pytest.raises(RuntimeError, match="stop"), store.batch():
        _write_three(store)
        raise RuntimeError("stop")
    assert store.decisions() == []
    assert store.apply_intents("s") == {}
    assert store.get_status("File//motd") is None
    store.put_status(f.status("issue"))  # the store still takes writes
    assert store.get_status("File//issue") == f.status("issue")


def test_another_threads_writes_wait_for_the_batch_and_stay_their_own(
    store: interfaces.Store,
) -> None:
    done = threading.Event()

    def write() -> None:  # an audited event reads the chain's head: a serial write
        store.append_event(f.event("ResourceApplied", seconds=1))
        done.set()

    with store.batch():
        store.put_status(f.status("motd"))
        writer = threading.Thread(target=write)
        writer.start()
        assert not done.wait(0.2)  # a serial write waits for the batch's commit
    writer.join(10)
    assert done.is_set()
    assert [e.type for e in store.events()] == ["ResourceApplied"]
    assert [e.seq for e in store.audit_entries()] == [1]
    assert store.get_status("File//motd") == f.status("motd")
