"""Apply intents: recorded before a provider is called, they outlive a reopen (a daemon
killed with -9), belong to their source, replace an older intent for the same object, and
are gone once forgotten."""

from __future__ import annotations

from reconciler.store.intents import ApplyIntent
from tests.store.conftest import Opener
from tests.store.store_factories import at


def _intent(
    key: str, *, source: str = "s", revision: str = "r1", seconds: float = 0
) -> ApplyIntent:
    return ApplyIntent(key=key, source=source, revision=revision, at=at(seconds))


def test_intents_outlive_a_reopen_per_source_and_the_newest_replaces_the_older(
    open_store: Opener,
) -> None:
    store = open_store()
    store.intend_apply([_intent("File//a")])
    store.intend_apply([_intent("File//a", revision="r2", seconds=5), _intent("File//b")])
    store.intend_apply([_intent("File//a", source="other")])
    store.intend_apply([])
    store.close()

    store = open_store()
    assert store.apply_intents("s") == {
        "File//a": _intent("File//a", revision="r2", seconds=5),
        "File//b": _intent("File//b"),
    }
    assert list(store.apply_intents("other")) == ["File//a"]
    assert store.apply_intents("none") == {}


def test_forgotten_intents_are_gone_in_their_source_only(open_store: Opener) -> None:
    store = open_store()
    keys = [f"File//f{n}" for n in range(1200)]  # more than one DELETE's worth of keys
    store.intend_apply(_intent(key) for key in keys)
    store.intend_apply([_intent("File//f1", source="other")])
    store.forget_intents("s", keys[:-1])
    store.forget_intents("s", [])
    assert list(store.apply_intents("s")) == [keys[-1]]
    assert list(store.apply_intents("other")) == ["File//f1"]


def test_the_last_intent_given_for_an_object_in_one_call_wins(open_store: Opener) -> None:
    store = open_store()
    store.intend_apply([_intent("File//a"), _intent("File//a", revision="r2", seconds=1)])
    assert store.apply_intents("s") == {"File//a": _intent("File//a", revision="r2", seconds=1)}
