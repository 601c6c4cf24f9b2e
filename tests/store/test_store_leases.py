"""Leases with fencing tokens, on every backend: a free or expired lease is taken and its
token bumped, a live one is refused to anyone but its holder, renewal keeps the token, a
released lease is free at once, and a fenced write whose lease changed hands is refused
and leaves nothing behind."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from reconciler.store.interfaces import Store
from reconciler.store.leases import Fence, LeaseLost
from tests.store import store_factories as f
from tests.store.conftest import Opener

TTL = timedelta(seconds=15)


def test_a_live_lease_is_its_holders_and_renewal_keeps_the_token(store: Store) -> None:
    assert store.acquire("source:a", "r1", ttl=TTL, now=f.at(0)) == 1
    assert store.acquire("source:a", "r2", ttl=TTL, now=f.at(14)) is None
    assert store.acquire("source:a", "r1", ttl=TTL, now=f.at(10)) == 1
    assert store.renew("source:a", "r1", token=1, ttl=TTL, now=f.at(20))
    assert store.acquire("source:a", "r2", ttl=TTL, now=f.at(34)) is None
    [lease] = store.holders()
    assert (lease.name, lease.holder, lease.token) == ("source:a", "r1", 1)
    assert (lease.acquired_at, lease.renewed_at, lease.expires_at) == (f.at(0), f.at(20), f.at(35))


def test_an_expired_lease_is_taken_with_a_new_token_and_the_old_holder_cannot_renew(
    store: Store,
) -> None:
    assert store.acquire("source:a", "r1", ttl=TTL, now=f.at(0)) == 1
    assert store.acquire("source:a", "r2", ttl=TTL, now=f.at(15)) == 2
    assert not store.renew("source:a", "r1", token=1, ttl=TTL, now=f.at(16))
    assert not store.release("source:a", "r1", token=1, now=f.at(16))
    assert store.acquire("source:a", "r1", ttl=TTL, now=f.at(16)) is None
    assert [(x.holder, x.token) for x in store.holders()] == [("r2", 2)]


def test_renew_all_renews_the_leases_still_carrying_their_tokens(store: Store) -> None:
    for name in ("source:a", "source:b", "source:c"):
        assert store.acquire(name, "r1", ttl=TTL, now=f.at(0)) == 1
    assert store.acquire("source:b", "r2", ttl=TTL, now=f.at(15)) == 2
    tokens = {"source:a": 1, "source:b": 1, "source:c": 1}
    assert store.renew_all("r1", tokens=tokens, ttl=TTL, now=f.at(16)) == {"source:a", "source:c"}
    assert store.renew_all("r1", tokens={}, ttl=TTL, now=f.at(16)) == set()
    assert {x.name: x.expires_at for x in store.holders()} == {
        "source:a": f.at(31),
        "source:b": f.at(30),
        "source:c": f.at(31),
    }


def test_a_released_lease_is_free_at_once_and_changes_token(store: Store) -> None:
    assert store.acquire("source:a", "r1", ttl=TTL, now=f.at(0)) == 1
    assert store.release("source:a", "r1", token=1, now=f.at(1))
    assert store.acquire("source:a", "r2", ttl=TTL, now=f.at(1)) == 2
    assert store.acquire("source:b", "r1", ttl=TTL, now=f.at(1)) == 1


def test_holders_by_prefix_outlive_a_reopen(open_store: Opener) -> None:
    store = open_store()
    store.acquire("replica:r1", "r1", ttl=TTL, now=f.at(0))
    store.acquire("source:a_b", "r1", ttl=TTL, now=f.at(0))
    store.acquire("source:a%", "r2", ttl=TTL, now=f.at(0))
    store.close()
    store = open_store()
    assert [x.name for x in store.holders(prefix="source:a_")] == ["source:a_b"]
    assert [x.name for x in store.holders(prefix="replica:")] == ["replica:r1"]
    assert len(store.holders()) == 3
    assert store.holders()[0].live(f.at(14)) and not store.holders()[0].live(f.at(15))


def test_a_fenced_write_goes_through_while_the_token_is_current(store: Store) -> None:
    token = store.acquire("source:main", "r1", ttl=TTL, now=f.at(0))
    assert token is not None
    fenced = store.fenced(lambda: Fence(name="source:main", token=token))
    fenced.put_status(f.status("motd"))
    assert store.get_status("File//motd") == f.status("motd")


def test_a_fenced_write_after_a_takeover_is_refused_and_leaves_nothing(store: Store) -> None:
    token = store.acquire("source:main", "r1", ttl=TTL, now=f.at(0))
    assert token == 1
    fenced = store.fenced(lambda: Fence(name="source:main", token=token))
    assert store.acquire("source:main", "r2", ttl=TTL, now=f.at(15)) == 2
    with pytest.raises(LeaseLost) as lost:
        fenced.put_statuses([f.status("motd")])
    assert str(lost.value) == (
        "lease source:main: token 1 is no longer current (held by r2 with token 2);"
        " the write was refused"
    )
    with pytest.raises(LeaseLost):
        fenced.append_event(f.event())
    assert store.get_status("File//motd") is None
    assert store.events() == []
    store.put_status(f.status("motd"))  # the unfenced store is not affected
    assert store.get_status("File//motd") is not None


def test_a_fence_on_a_lease_never_taken_refuses(store: Store) -> None:
    fenced = store.fenced(lambda: Fence(name="source:none", token=1))
    with pytest.raises(LeaseLost, match=r"token 1 is no longer current \(not held\)"):
        fenced.put_status(f.status("motd"))


def test_replicas_racing_for_a_free_lease_get_exactly_one_token(open_store: Opener) -> None:
    stores = [open_store() for _ in range(4)]
    with ThreadPoolExecutor(len(stores)) as pool:
        tokens = list(
            pool.map(
                lambda n: stores[n].acquire("source:a", f"r{n}", ttl=TTL, now=f.at(0)),
                range(len(stores)),
            )
        )
    assert sorted(tokens, key=lambda t: t is None) == [1, None, None, None]
    [lease] = stores[0].holders()
    assert lease.holder == f"r{tokens.index(1)}"
