"""Which optimization action to take in which context, learned from recorded outcomes.

A contextual bandit with linear Thompson sampling. Each option on offer is described by a
vector of named features of the option in its context (say the replicas it asks for and
the utilisation they would run at under the current load, or a sizing candidate's cost,
running-hot and saturation figures); the learner models the expected reward as a linear
function of those features and keeps a Bayesian posterior on its weights (ridge
regression with a Normal-inverse-gamma prior, so the noise level is learnt too). To
choose, it draws one weight vector from the posterior and takes the option whose features
score best under it: uncertain directions get tried, and as the evidence grows the draws
settle on the best option. Because the weights are shared, what one option or context
teaches carries over to every other option described by the same features — a one-hot
feature per (context, action) gives the tabular bandit back, learning each apart.

The state is the regression's sufficient statistics (XᵀX, Xᵀy, yᵀy, n), so it is small
and its size does not grow with the outcomes. Deterministic: the random generator is
seeded and its state is part of the persisted state, so a learner restored from the
store chooses exactly as the one that saved it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from reconciler.store.learners import Learners


@dataclass(frozen=True)
class Prior:
    precision: float = 1.0  # ridge: prior weights ~ N(0, noise² / precision)
    shape: float = 1.0  # inverse-gamma prior on the noise variance: its shape
    scale: float = 1.0  # ... and scale (the prior guess of the variance is scale / shape)


class Learner:
    def __init__(self, features: Sequence[str], *, seed: int = 0, prior: Prior = Prior()) -> None:
        if not features:
            raise ValueError("a learner needs at least one feature")
        self.features = list(features)
        self.prior = prior
        self._rng = np.random.default_rng(seed)
        d = len(self.features)
        self._xx = np.zeros((d, d))
        self._xy = np.zeros(d)
        self._yy = 0.0
        self._n = 0

    @property
    def observations(self) -> int:
        return self._n

    def choose(self, options: Mapping[str, Sequence[float]]) -> str:
        """One Thompson draw of the weights; the option it scores best."""
        names, x = self._matrix(options)
        mean, cov, shape, scale = self._posterior()
        variance = scale / self._rng.gamma(shape)  # inverse-gamma draw of the noise
        weights = self._rng.multivariate_normal(mean, variance * cov, method="cholesky")
        return names[int(np.argmax(x @ weights))]

    def best(self, options: Mapping[str, Sequence[float]]) -> str:
        """The option with the highest posterior mean reward (what the learner believes)."""
        names, x = self._matrix(options)
        return names[int(np.argmax(x @ self._posterior()[0]))]

    def scores(self, options: Mapping[str, Sequence[float]]) -> dict[str, tuple[float, float]]:
        """Each option's posterior mean reward and its standard deviation."""
        names, x = self._matrix(options)
        mean, cov, shape, scale = self._posterior()
        variance = scale / max(shape - 1, 1e-9)  # the noise variance's posterior mean
        sd = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", x, cov, x) * variance, 0.0))
        return {n: (float(m), float(s)) for n, m, s in zip(names, x @ mean, sd, strict=True)}

    def record(self, features: Sequence[float], reward: float) -> None:
        """Learn from one outcome: `reward` after taking the option described by `features`."""
        x = self._vector(features)
        self._xx += np.outer(x, x)
        self._xy += reward * x
        self._yy += reward * reward
        self._n += 1

    def _posterior(self) -> tuple[np.ndarray, np.ndarray, float, float]:
        p = self.prior
        precision = self._xx + p.precision * np.eye(len(self.features))
        cov = np.linalg.inv(precision)
        cov = (cov + cov.T) / 2
        mean = cov @ self._xy
        shape = p.shape + self._n / 2
        scale = p.scale + max(0.0, (self._yy - float(mean @ precision @ mean)) / 2)
        return mean, cov, shape, scale

    def _vector(self, features: Sequence[float]) -> np.ndarray:
        x = np.asarray(features, dtype=float)
        if x.shape != (len(self.features),):
            raise ValueError(f"expected {len(self.features)} features ({', '.join(self.features)})")
        return x

    def _matrix(self, options: Mapping[str, Sequence[float]]) -> tuple[list[str], np.ndarray]:
        if not options:
            raise ValueError("no options to choose from")
        names = list(options)
        return names, np.stack([self._vector(options[n]) for n in names])

    # persistence

    def to_json(self) -> str:
        """The whole state — statistics and the generator's position — as JSON."""
        return json.dumps(
            {
                "features": self.features,
                "prior": [self.prior.precision, self.prior.shape, self.prior.scale],
                "xx": self._xx.tolist(),
                "xy": self._xy.tolist(),
                "yy": self._yy,
                "n": self._n,
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
        features: Sequence[str],
        *,
        seed: int = 0,
        prior: Prior = Prior(),
    ) -> Learner:
        """The learner saved as `name`, or a new one when none was saved (or its features
        changed since: what it learnt about other features does not carry over)."""
        saved = store.load_learner(name)
        if saved is not None:
            learner = cls.from_json(saved)
            if learner.features == list(features):
                return learner
        return cls(features, seed=seed, prior=prior)

    @classmethod
    def from_json(cls, text: str) -> Learner:
        data: dict[str, Any] = json.loads(text)
        learner = cls(data["features"], prior=Prior(*data["prior"]))
        learner._xx = np.array(data["xx"], dtype=float)
        learner._xy = np.array(data["xy"], dtype=float)
        learner._yy = float(data["yy"])
        learner._n = int(data["n"])
        learner._rng.bit_generator.state = data["rng"]
        return learner
