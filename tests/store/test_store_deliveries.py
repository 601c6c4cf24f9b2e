"""Webhook delivery ids: the first sighting is new, a repeat is not, across a reopen; the
table keeps only the newest `keep` ids."""

from __future__ import annotations

from reconciler.store import interfaces
from tests.store.conftest import Opener
from tests.store.store_factories import at


def test_a_delivery_id_is_new_once_per_forge_even_after_reopening(open_store: Opener) -> None:
    store = open_store()
    assert store.first_delivery("github", "d-1", at=at(0)) is True
    assert store.first_delivery("github", "d-1", at=at(1)) is False
    assert store.first_delivery("gitlab", "d-1", at=at(2)) is True
    store.close()
    assert open_store().first_delivery("github", "d-1", at=at(3)) is False


def test_only_the_newest_ids_are_kept(store: interfaces.Store) -> None:
    for n in range(5):
        assert store.first_delivery("github", f"d-{n}", at=at(n), keep=3) is True
    assert store.first_delivery("github", "d-4", at=at(9), keep=3) is False
    assert store.first_delivery("github", "d-2", at=at(9), keep=3) is False
    assert store.first_delivery("github", "d-1", at=at(9), keep=3) is True  # forgotten
