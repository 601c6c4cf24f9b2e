"""Which optimization action to take in which context, learned from recorded outcomes.

A contextual bandit with Thompson sampling: contexts are discrete buckets (e.g. a load
level and an hour band), actions a fixed list (e.g. replica counts). For every (bucket,
action) the learner keeps the count, mean and sum of squared deviations of the rewards it
was told about (Welford), which give a Normal posterior on the expected reward (a Normal
prior with mean `prior_mean` worth `prior_weight` observations, and the observed variance
or `prior_var` while there are too few). To choose, it draws one expected reward from
each action's posterior and takes the best draw: uncertain actions get tried, and as the
evidence grows the draws settle on the best one.

Deterministic: the random generator is seeded and its state is part of the persisted
state, so a learner restored from the store chooses exactly as the one that saved it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from reconciler.store.learners import Learners


@dataclass(frozen=True)
class Prior:
    mean: float = 0.0
    weight: float = 1.0  # observations the prior mean is worth
    var: float = 1.0  # reward variance assumed until an action has two observations


class Learner:
    def __init__(self, actions: Sequence[str], *, seed: int = 0, prior: Prior = Prior()) -> None:
        if not actions:
            raise ValueError("a learner needs at least one action")
        self.actions = list(actions)
        self.prior = prior
        self._rng = np.random.default_rng(seed)
        # bucket -> array of shape (3, actions): count, mean, M2
        self._stats: dict[str, np.ndarray] = {}

    def _of(self, bucket: str) -> np.ndarray:
        found = self._stats.get(bucket)
        if found is None:
            found = self._stats[bucket] = np.zeros((3, len(self.actions)))
        return found

    def choose(self, bucket: str) -> str:
        """One Thompson draw per action from its posterior; the best draw's action."""
        mean, sd = self._posterior(self._of(bucket))
        draws = self._rng.normal(mean, sd)
        return self.actions[int(np.argmax(draws))]

    def best(self, bucket: str) -> str:
        """The action with the highest posterior mean (what the learner believes now)."""
        mean, _ = self._posterior(self._of(bucket))
        return self.actions[int(np.argmax(mean))]

    def record(self, bucket: str, action: str, reward: float) -> None:
        """Learn from one outcome: `reward` after taking `action` in `bucket`."""
        stats = self._of(bucket)
        i = self.actions.index(action)
        stats[0, i] += 1
        delta = reward - stats[1, i]
        stats[1, i] += delta / stats[0, i]
        stats[2, i] += delta * (reward - stats[1, i])

    def _posterior(self, stats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n, mean, m2 = stats
        p = self.prior
        var = np.where(n > 1, m2 / np.maximum(n - 1, 1), p.var)
        var = np.maximum(var, 1e-9)
        post_n = n + p.weight
        post_mean = (n * mean + p.weight * p.mean) / post_n
        return post_mean, np.sqrt(var / post_n)

    # persistence

    def to_json(self) -> str:
        """The whole state — statistics and the generator's position — as JSON."""
        return json.dumps(
            {
                "actions": self.actions,
                "prior": [self.prior.mean, self.prior.weight, self.prior.var],
                "stats": {b: s.tolist() for b, s in self._stats.items()},
                "rng": self._rng.bit_generator.state,
            },
            sort_keys=True,
        )

    def save(self, store: Learners, name: str) -> None:
        """Keep the whole state in the store under `name`."""
        store.save_learner(name, self.to_json())

    @classmethod
    def restore(
        cls,
        store: Learners,
        name: str,
        actions: Sequence[str],
        *,
        seed: int = 0,
        prior: Prior = Prior(),
    ) -> Learner:
        """The learner saved as `name`, or a new one when none was saved (or its actions
        changed since: what it learnt about other actions does not carry over)."""
        saved = store.load_learner(name)
        if saved is not None:
            learner = cls.from_json(saved)
            if learner.actions == list(actions):
                return learner
        return cls(actions, seed=seed, prior=prior)

    @classmethod
    def from_json(cls, text: str) -> Learner:
        data: dict[str, Any] = json.loads(text)
        mean, weight, var = data["prior"]
        learner = cls(data["actions"], prior=Prior(mean, weight, var))
        learner._stats = {b: np.array(s, dtype=float) for b, s in data["stats"].items()}
        learner._rng.bit_generator.state = data["rng"]
        return learner
