"""The optimization learner: linear Thompson sampling finds the better option, carries what
it learns across options that share features, is deterministic with a seed, and a learner
restored from its saved state chooses exactly as the original."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reconciler.optimize.learner import Learner, Prior
from reconciler.store.retention import RetentionSettings
from reconciler.store.sqlite import SqliteStore

ONE_HOT = {"a": [1.0, 0.0, 0.0], "b": [0.0, 1.0, 0.0], "c": [0.0, 0.0, 1.0]}
MEANS = {"a": -1.0, "b": -2.0, "c": -3.0}


def play(learner: Learner, steps: int, *, seed: int = 1, names: str = "abc") -> list[str]:
    """Options with true mean rewards -1 ("a"), -2 ("b"), -3 ("c"), one-hot features."""
    rng = np.random.default_rng(seed)
    options = {n: ONE_HOT[n] for n in names}
    chosen = []
    for _ in range(steps):
        action = learner.choose(options)
        chosen.append(action)
        learner.record(options[action], MEANS[action] + rng.normal(0, 0.5))
    return chosen


def test_it_settles_on_the_better_option() -> None:
    learner = Learner(["a", "b", "c"], seed=3)
    chosen = play(learner, 300, names="ab")
    assert learner.best({n: ONE_HOT[n] for n in "ab"}) == "a"
    assert chosen[-100:].count("a") >= 95
    assert chosen[:20].count("b") >= 1  # it did explore
    scores = learner.scores({n: ONE_HOT[n] for n in "ab"})
    assert scores["a"][0] == pytest.approx(-1.0, abs=0.1)
    assert scores["a"][1] < scores["b"][1]  # tried more often: known better


def test_contexts_are_learnt_apart_with_one_hot_features() -> None:
    learner = Learner(["night/a", "night/b", "day/a", "day/b"], seed=0)
    night = {"a": [1.0, 0, 0, 0], "b": [0, 1.0, 0, 0]}
    day = {"a": [0, 0, 1.0, 0], "b": [0, 0, 0, 1.0]}
    for _ in range(20):
        learner.record(night["b"], 1.0)
        learner.record(night["a"], 0.0)
        learner.record(day["a"], 1.0)
        learner.record(day["b"], 0.0)
    assert (learner.best(night), learner.best(day)) == ("b", "a")


def test_shared_features_carry_over_to_an_option_never_tried() -> None:
    """Reward is minus the replicas: learnt from 1..4 replicas, it ranks 10 below 5."""
    learner = Learner(["bias", "replicas"], seed=1, prior=Prior(precision=0.01))
    for replicas in [1, 2, 3, 4] * 10:
        learner.record([1.0, replicas], -float(replicas))
    assert learner.best({"ten": [1.0, 10.0], "five": [1.0, 5.0]}) == "five"
    assert learner.scores({"ten": [1.0, 10.0]})["ten"][0] == pytest.approx(-10.0, abs=0.1)


def test_the_same_seed_gives_the_same_choices() -> None:
    assert play(Learner(list("abc"), seed=5), 50) == play(Learner(list("abc"), seed=5), 50)
    assert play(Learner(list("abc"), seed=5), 50) != play(Learner(list("abc"), seed=6), 50)


def test_a_restored_learner_continues_exactly() -> None:
    original = Learner(list("abc"), seed=9, prior=Prior(2.0, 3.0, 1.5))
    play(original, 40)
    restored = Learner.from_json(original.to_json())
    assert restored.to_json() == original.to_json()
    assert play(restored, 60, seed=4) == play(original, 60, seed=4)


def test_bad_shapes_are_refused_with_the_features_named() -> None:
    with pytest.raises(ValueError, match="at least one feature"):
        Learner([])
    learner = Learner(["cost", "risk"])
    with pytest.raises(ValueError, match=r"^expected 2 features \(cost, risk\)$"):
        learner.record([1.0], 0.0)
    with pytest.raises(ValueError, match="no options"):
        learner.choose({})


def test_a_saved_learner_survives_a_restart_of_the_store(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = SqliteStore(path, retention=RetentionSettings())
    learner = Learner.restore(store, "replicas", list("abc"), seed=2)
    play(learner, 30)
    learner.save(store, "replicas")
    store.close()
    reopened = SqliteStore(path, retention=RetentionSettings())
    restored = Learner.restore(reopened, "replicas", list("abc"), seed=99)
    assert restored.to_json() == learner.to_json()
    assert play(restored, 40, seed=8) == play(learner, 40, seed=8)
    fresh = Learner.restore(reopened, "replicas", ["a", "b"], seed=2)  # the features changed
    assert fresh.to_json() == Learner(["a", "b"], seed=2).to_json()
    assert Learner.restore(reopened, "other", ["a"]).to_json() == Learner(["a"]).to_json()
    reopened.close()
