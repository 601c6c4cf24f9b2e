"""The store keeps decision inputs by digest for replay (the contract every backend passes),
and forgets those no decision refers to any more."""

from __future__ import annotations

from datetime import timedelta

import pytest

from reconciler.store import interfaces
from reconciler.store.retention import RetentionSettings
from tests.store import store_factories as f
from tests.store.conftest import Opener


@pytest.fixture
def store(open_store: Opener) -> interfaces.Store:
    return open_store(RetentionSettings(max_decisions=2, decision_max_age=timedelta(days=3650)))


def test_inputs_are_kept_by_digest_and_a_kept_digest_is_not_overwritten(
    store: interfaces.Store,
) -> None:
    assert store.put_inputs({"d1": '{"a":1}', "d2": '{"b":2}'}) == 2
    assert store.put_inputs({"d1": '{"changed":true}'}) == 1
    assert store.get_inputs(["d1", "d2", "d3"]) == {"d1": '{"a":1}', "d2": '{"b":2}'}
    assert store.get_inputs([]) == {}
    assert store.put_inputs({}) == 0


def test_many_digests_are_read_in_one_call(store: interfaces.Store) -> None:
    texts = {f"d{i}": f'{{"i":{i}}}' for i in range(1_200)}
    store.put_inputs(texts)
    assert store.get_inputs(texts) == texts


def test_retention_forgets_inputs_no_decision_refers_to(store: interfaces.Store) -> None:
    store.put_inputs({"old": "{}", "kept": "[]", "orphan": "null"})
    store.append_decisions(
        [
            f.decision(name="a", digest="old", seconds=0),
            f.decision(name="b", digest="kept", seconds=1),
            f.decision(name="c", digest="kept", seconds=2),
        ]
    )
    store.apply_retention(now=f.at(10))
    # "a" left the log but is still the current decision of (policy, web-a): its input stays
    assert store.get_inputs(["old", "kept", "orphan"]) == {"old": "{}", "kept": "[]"}


def test_decisions_come_with_their_inputs_and_shards_split_the_log(store: interfaces.Store) -> None:
    store.put_inputs({"d1": '{"a":1}'})
    logged = [
        f.decision(name=f"w{i}", digest="d1" if i % 2 else "none", seconds=i) for i in range(5)
    ]
    store.append_decisions(logged)
    assert list(store.iter_decisions_with_inputs(batch=2)) == [
        (d, '{"a":1}' if i % 2 else None) for i, d in enumerate(logged)
    ]
    shares = [list(store.iter_decisions_with_inputs(batch=2, shard=s, shards=2)) for s in (0, 1)]
    assert sorted((d.at for share in shares for d, _ in share)) == [d.at for d in logged]
    assert shares[0] and shares[1]


def test_decisions_appended_with_their_inputs_keep_both(store: interfaces.Store) -> None:
    first, second = f.decision(name="a", digest="da"), f.decision(name="b", digest="db")
    assert store.append_decisions([first, second], inputs={"da": '{"a":1}'}) == 2
    assert store.get_inputs(["da", "db"]) == {"da": '{"a":1}'}
    assert [text for _, text in store.iter_decisions_with_inputs()] == ['{"a":1}', None]
    assert store.append_decisions([], inputs={"dz": "{}"}) == 0
    assert store.get_inputs(["dz"]) == {}
