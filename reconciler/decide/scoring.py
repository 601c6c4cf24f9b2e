"""Scoring options: the repository's rule score as a Beta prior, recorded outcomes as
evidence, the posterior mean as the chance of success.

For option `o` with rule score `r` (0.5 when no rule scores it), rule weight `k` and
`s`/`f` recorded successes/failures in the context's bucket, weighted by `w`:

    success ~ Beta(k·r + w·s, k·(1 − r) + w·f)

`combined` is the posterior mean. The option with the highest mean is chosen (the first
listed on a tie) and its mean is the decision's confidence: the estimated chance that it
succeeds, which is what makes confidence calibrated when the rules are (tests/decide).
With little evidence the prior dominates and confidence stays near the rule's score; as
outcomes accumulate the history takes over. `margin` (the lead over the runner-up) and
`p_best` (the sampled chance that the chosen option really is the best) show how clear
the choice was.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from reconciler.decide.records import Choice, Option, Score
from reconciler.specs.decisions import Weights

NEUTRAL = 0.5
SAMPLES = 4_000


@dataclass(frozen=True)
class RuleScore:
    """What the repository's rules say of one option."""

    score: float
    reasons: tuple[str, ...] = ()


def choose(
    options: Sequence[Option],
    rules: Mapping[str, RuleScore],
    history: Mapping[str, tuple[float, float]],
    weights: Weights,
    *,
    seed: int = 0,
) -> Choice:
    """Score every option and choose one; deterministic for a given `seed`."""
    if not options:
        return Choice(scores=(), chosen=None, confidence=0.0, margin=0.0, evidence=0.0, p_best=0.0)
    names = [o.name for o in options]
    given = [rules.get(n) for n in names]
    prior = np.array([NEUTRAL if g is None else _unit(g.score) for g in given])
    counts = np.array([history.get(n, (0.0, 0.0)) for n in names], dtype=float)
    alpha = weights.rules * prior + weights.history * counts[:, 0]
    beta = weights.rules * (1.0 - prior) + weights.history * counts[:, 1]
    mean = alpha / (alpha + beta)
    best = int(np.argmax(mean))
    ranked = np.sort(mean)[::-1]
    margin = float(ranked[0] - ranked[1]) if len(options) > 1 else float(ranked[0])
    scores = tuple(
        Score(
            option=o,
            rule=None if g is None else _unit(g.score),
            rule_reasons=() if g is None else g.reasons,
            prior=float(prior[i]),
            successes=float(counts[i, 0]),
            failures=float(counts[i, 1]),
            combined=float(mean[i]),
            history_reason=_history_reason(counts[i, 0], counts[i, 1]),
        )
        for i, (o, g) in enumerate(zip(options, given, strict=True))
    )
    return Choice(
        scores=scores,
        chosen=options[best],
        confidence=float(mean[best]),
        margin=margin,
        evidence=float(counts[best].sum()),
        p_best=_p_best(alpha, beta, best, seed),
    )


def _p_best(alpha: np.ndarray, beta: np.ndarray, best: int, seed: int) -> float:
    if len(alpha) == 1:
        return 1.0
    rng = np.random.default_rng(seed)
    draws = rng.beta(alpha[:, None], beta[:, None], size=(len(alpha), SAMPLES))
    return float(np.mean(np.argmax(draws, axis=0) == best))


def _unit(value: float) -> float:
    """A rule score clipped into (0, 1), so a prior is never certain."""
    return min(max(float(value), 0.001), 0.999)


def _history_reason(successes: float, failures: float) -> str:
    total = successes + failures
    if total == 0:
        return "no recorded outcome in this context"
    return f"{successes:g} of {total:g} recorded attempts in this context succeeded"
