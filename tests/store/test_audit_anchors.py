"""Anchors: the chain's head committed to a real Git repository shows what the chain alone
cannot — entries cut off its end, and a chain recomputed after an edit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import store_factories as f

from reconciler.errors import SourceError
from reconciler.store import anchors, audit, interfaces
from tests import gitrepo
from tests.store.conftest import Tamper


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    path = tmp_path / "anchors.git"
    path.mkdir()
    gitrepo.git(path, "init", "--bare", "-q")
    return path


def applied(n: int) -> interfaces.EventRecord:
    return interfaces.EventRecord(
        at=f.at(n), type="ResourceApplied", object_key=f"File//r{n}", data={"n": n}
    )


def test_the_head_is_committed_once_per_move(store: interfaces.Store, vault: Path) -> None:
    assert anchors.anchor(store, vault, at=f.at(0)) is None  # nothing to anchor yet
    for n in range(3):
        store.append_event(applied(n))
    first = anchors.anchor(store, vault, at=f.at(10))
    assert first is not None
    assert anchors.anchor(store, vault, at=f.at(11)) is None  # the head has not moved
    store.append_event(applied(3))
    second = anchors.anchor(store, vault, at=f.at(12))
    assert second is not None
    head = store.audit_entries()[-1]
    shown = gitrepo.git(vault, "show", f"{anchors.REF}:{anchors.FILE}")
    assert json.loads(shown) == {"seq": 4, "hash": head.hash, "at": "2026-03-01T12:00:12+00:00"}
    assert gitrepo.git(vault, "rev-list", "--count", anchors.REF) == "2"
    assert [(a.seq, a.commit) for a in anchors.read(vault)] == [
        (3, first.commit),
        (4, second.commit),
    ]
    assert anchors.check(store, anchors.read(vault), head_seq=4) is None


def test_entries_cut_off_the_end_are_found(
    store: interfaces.Store, vault: Path, tamper: Tamper
) -> None:
    for n in range(4):
        store.append_event(applied(n))
    made = anchors.anchor(store, vault, at=f.at(10))
    assert made is not None
    tamper("DELETE FROM audit_log WHERE seq > 2")
    walked = store.verify_audit()
    assert (walked.intact, walked.head_seq) == (True, 2)  # the chain alone cannot tell
    assert anchors.check(store, anchors.read(vault), head_seq=2) == (
        f"anchor {made.commit[:12]} (2026-03-01T12:00:10+00:00) of entry 4: the chain ends at "
        "entry 2: entries were cut off its end"
    )


def test_a_recomputed_chain_is_found(store: interfaces.Store, vault: Path, tamper: Tamper) -> None:
    for n in range(3):
        store.append_event(applied(n))
    made = anchors.anchor(store, vault, at=f.at(10))
    assert made is not None
    # The attacker edits entry 2 and recomputes every hash from there: the chain verifies.
    entries = store.audit_entries()
    forged, prev = [], entries[0].hash
    for entry in entries[1:]:
        data = {**entry.data, "n": 99} if entry.seq == 2 else entry.data
        new = audit.link(
            seq=entry.seq,
            prev_hash=prev,
            id=entry.id,
            at=entry.at,
            type=entry.type,
            subject=entry.subject,
            data=data,
        )
        forged.append(new)
        prev = new.hash
    tamper(
        "UPDATE audit_log SET data = ?, prev_hash = ?, hash = ? WHERE seq = ?",
        [(audit.canonical(new.data), new.prev_hash, new.hash, new.seq) for new in forged],
    )
    assert store.verify_audit().intact
    assert anchors.check(store, anchors.read(vault), head_seq=3) == (
        f"anchor {made.commit[:12]} (2026-03-01T12:00:10+00:00) of entry 3: entry 3 (id "
        f"{entries[2].id}) has hash {forged[-1].hash}, anchored {made.hash}: the chain was "
        "rewritten"
    )


def test_a_broken_chain_is_not_anchored(
    store: interfaces.Store, vault: Path, tamper: Tamper
) -> None:
    for n in range(2):
        store.append_event(applied(n))
    tamper("UPDATE audit_log SET actor = 'x' WHERE seq = 1")
    edited = store.audit_entries()[0].id
    with pytest.raises(interfaces.StoreError) as refused:
        anchors.anchor(store, vault, at=f.at(10))
    assert str(refused.value) == (
        f"audit log not anchored: entry 1 (id {edited}) was edited: its fields do not match "
        "its hash"
    )
    assert anchors.read(vault) == []


def test_a_missing_repository_is_named(store: interfaces.Store, tmp_path: Path) -> None:
    store.append_event(applied(0))
    with pytest.raises(SourceError) as refused:
        anchors.anchor(store, tmp_path / "nope", at=f.at(10))
    assert str(refused.value).startswith(f"cannot open {tmp_path / 'nope'}: ")
