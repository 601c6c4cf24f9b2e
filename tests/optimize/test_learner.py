"""The optimization learner: Thompson sampling finds the better action, is deterministic
with a seed, and a learner restored from its saved state chooses exactly as the original."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reconciler.optimize.learner import Learner, Prior
from reconciler.store.retention import RetentionSettings
from reconciler.store.sqlite import SqliteStore


def play(learner: Learner, steps: int, *, seed: int = 1) -> list[str]:
    """Actions with true mean rewards -1 ("a"), -2 ("b"), -3 ("c") in one context."""
    rng = np.random.default_rng(seed)
    means = {"a": -1.0, "b": -2.0, "c": -3.0}
    chosen = []
    for _ in range(steps):
        action = learner.choose("ctx")
        chosen.append(action)
        learner.record("ctx", action, means[action] + rng.normal(0, 0.5))
    return chosen


def test_it_settles_on_the_better_action() -> None:
    learner = Learner(["a", "b"], seed=3, prior=Prior(0, 1, 4))
    chosen = play(learner, 300)
    assert learner.best("ctx") == "a"
    assert chosen[-100:].count("a") >= 95
    assert chosen[:20].count("b") >= 1  # it did explore


def test_contexts_are_learnt_apart() -> None:
    learner = Learner(["a", "b"], seed=0)
    for _ in range(20):
        learner.record("night", "b", 1.0)
        learner.record("night", "a", 0.0)
        learner.record("day", "a", 1.0)
        learner.record("day", "b", 0.0)
    assert (learner.best("night"), learner.best("day")) == ("b", "a")


def test_the_same_seed_gives_the_same_choices() -> None:
    assert play(Learner(["a", "b"], seed=5), 50) == play(Learner(["a", "b"], seed=5), 50)
    assert play(Learner(["a", "b"], seed=5), 50) != play(Learner(["a", "b"], seed=6), 50)


def test_a_restored_learner_continues_exactly() -> None:
    original = Learner(["a", "b", "c"], seed=9, prior=Prior(-1, 2, 3))
    play(original, 40)
    restored = Learner.from_json(original.to_json())
    assert restored.to_json() == original.to_json()
    assert play(restored, 60, seed=4) == play(original, 60, seed=4)


def test_a_learner_needs_actions() -> None:
    with pytest.raises(ValueError, match="at least one action"):
        Learner([])


def test_a_saved_learner_survives_a_restart_of_the_store(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = SqliteStore(path, retention=RetentionSettings())
    learner = Learner.restore(store, "replicas", ["a", "b", "c"], seed=2)
    play(learner, 30)
    learner.save(store, "replicas")
    store.close()
    reopened = SqliteStore(path, retention=RetentionSettings())
    restored = Learner.restore(reopened, "replicas", ["a", "b", "c"], seed=99)
    assert restored.to_json() == learner.to_json()
    assert play(restored, 40, seed=8) == play(learner, 40, seed=8)
    fresh = Learner.restore(reopened, "replicas", ["a", "b"], seed=2)  # the actions changed
    assert fresh.to_json() == Learner(["a", "b"], seed=2).to_json()
    assert Learner.restore(reopened, "other", ["a"]).to_json() == Learner(["a"]).to_json()
    reopened.close()
