"""The audit log: audited events are chained in the event's transaction, the chain holds
under concurrent writers, retention leaves it alone, and tampering with the file is found."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import store_factories as f
from sqlalchemy import exc as sa_exc

from reconciler.store import audit, interfaces
from reconciler.store.retention import RetentionSettings
from tests.store.conftest import Opener, Tamper


def audited(
    n: int, *, type_: str = "ResourceApplied", seconds: float = 0
) -> interfaces.EventRecord:
    return interfaces.EventRecord(
        at=f.at(seconds),
        type=type_,
        object_key=f"File//r{n}",
        message="applied",
        data={"source": "main", "n": n, "changes": (1, 2)},
    )


def test_audited_events_are_chained_and_others_are_not(store: interfaces.Store) -> None:
    store.append_event(audited(1))
    store.append_event(f.event("ReconcileFinished"))
    store.append_event(audited(2, type_="ApprovalAnswered"))
    store.append_event(
        interfaces.EventRecord(at=f.at(0), type="RunUpdated", data={"kind": "workflow", "run": "w"})
    )
    store.append_event(
        interfaces.EventRecord(
            at=f.at(0), type="RunUpdated", data={"kind": "remediation", "run": "r"}
        )
    )
    entries = store.audit_entries()
    assert [(e.seq, e.type) for e in entries] == [
        (1, "ResourceApplied"),
        (2, "ApprovalAnswered"),
        (3, "RunUpdated"),
    ]
    first, second = entries[0], entries[1]
    assert first.prev_hash == audit.GENESIS
    assert second.prev_hash == first.hash
    assert first.hash == audit.digest(first.body())
    assert first.subject == "File//r1"
    assert first.actor == "reconciler"
    assert first.at == "2026-03-01T12:00:00+00:00"
    assert first.data == {"source": "main", "n": 1, "changes": [1, 2]}
    assert [e.seq for e in store.audit_entries(since=1, limit=1)] == [2]
    assert store.verify_audit() == audit.Verification(count=3, head_seq=3, head=entries[2].hash)


def test_the_actor_is_the_one_the_event_names(store: interfaces.Store) -> None:
    store.append_event(
        interfaces.EventRecord(
            at=f.at(0), type="ApprovalAnswered", data={"actor": "token:ops", "approved": True}
        )
    )
    assert store.audit_entries()[0].actor == "token:ops"


def test_an_event_is_kept_only_with_its_audit_entry(
    store: interfaces.Store, tamper: Tamper
) -> None:
    store.append_event(audited(0))
    tamper("CREATE TRIGGER refuse BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'no'); END")
    with pytest.raises(sa_exc.IntegrityError):
        store.append_event(audited(1))
    assert [e.data["n"] for e in store.events()] == [0]
    store.append_event(f.event("ReconcileFinished"))  # not audited: unaffected
    assert len(store.events()) == 2


def test_concurrent_writers_never_fork_the_chain(open_store: Opener) -> None:
    stores = [open_store(), open_store()]  # two stores on one file, as two processes would be
    barrier = threading.Barrier(8)

    def write(store: interfaces.Store, worker: int) -> None:
        barrier.wait()
        for i in range(25):
            store.append_event(audited(worker * 100 + i))

    threads = [
        threading.Thread(target=write, args=(stores[w % 2], w)) for w in range(barrier.parties)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    entries = stores[0].audit_entries(limit=1000)
    assert [e.seq for e in entries] == list(range(1, 201))
    assert len({e.prev_hash for e in entries}) == 200
    assert sorted(e.data["n"] for e in entries) == sorted(
        w * 100 + i for w in range(8) for i in range(25)
    )
    assert stores[1].verify_audit().intact


def test_retention_never_prunes_the_audit_log(open_store: Opener) -> None:
    store = open_store(RetentionSettings(max_events=1, event_max_age=timedelta(seconds=1)))
    for n in range(5):
        store.append_event(audited(n, seconds=n))
    before = store.audit_entries()
    report = store.apply_retention(now=f.at(10_000))
    assert report.events == 5
    assert store.events() == []
    assert store.audit_entries() == before
    assert store.verify_audit().count == 5


def _tampered(store: interfaces.Store, tamper: Tamper, sql: str) -> audit.Verification:
    tamper(sql)
    return store.verify_audit()


def test_an_edited_entry_is_named(store: interfaces.Store, tamper: Tamper) -> None:
    for n in range(4):
        store.append_event(audited(n))
    target = store.audit_entries()[1]
    found = _tampered(
        store,
        tamper,
        "UPDATE audit_log SET data = replace(data, '\"n\":1', '\"n\":9') WHERE seq = 2",
    )
    assert (found.breach, found.seq, found.id, found.count) == (
        audit.Breach.EDITED,
        2,
        target.id,
        1,
    )
    assert found.message == f"entry 2 (id {target.id}) was edited: its fields do not match its hash"


def test_a_deleted_entry_is_named(store: interfaces.Store, tamper: Tamper) -> None:
    for n in range(4):
        store.append_event(audited(n))
    after = store.audit_entries()[2]
    found = _tampered(store, tamper, "DELETE FROM audit_log WHERE seq = 2")
    assert (found.breach, found.seq, found.id) == (audit.Breach.REMOVED, 2, after.id)
    assert found.message == f"entry 2 removed: entry 3 (id {after.id}) follows entry 1"


def test_swapped_entries_are_named(store: interfaces.Store, tamper: Tamper) -> None:
    for n in range(5):
        store.append_event(audited(n))
    moved = store.audit_entries()[3]
    found = _tampered(
        store,
        tamper,
        "UPDATE audit_log SET seq = -1 WHERE seq = 2;"
        "UPDATE audit_log SET seq = 2 WHERE seq = 4;"
        "UPDATE audit_log SET seq = 4 WHERE seq = -1;",
    )
    assert (found.breach, found.seq, found.id) == (audit.Breach.REORDERED, 2, moved.id)


def test_data_that_is_no_longer_json_counts_as_edited(
    store: interfaces.Store, tamper: Tamper
) -> None:
    store.append_event(audited(0))
    found = _tampered(store, tamper, "UPDATE audit_log SET data = '{oops'")
    assert (found.breach, found.seq) == (audit.Breach.EDITED, 1)
