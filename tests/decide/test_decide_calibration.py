"""Confidence is calibrated: decisions taken at confidence c succeed about c of the time.

Simulated histories: each option's true chance of success is drawn from the prior its
rule score states (Beta(k·r, k·(1 − r))), its history is drawn from that chance, the
decision is taken, and the chosen option's outcome is drawn. Grouped by confidence, the
observed success rate must match the mean confidence.
"""

from __future__ import annotations

import numpy as np
import pytest

from reconciler.decide.records import Option
from reconciler.decide.scoring import RuleScore, choose
from reconciler.specs.decisions import Weights

DECISIONS = 12_000
OPTIONS = [Option("runbook", name) for name in ("a", "b", "c")]


def _simulate(weights: Weights, *, with_rules: bool, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    confidence = np.empty(DECISIONS)
    succeeded = np.empty(DECISIONS)
    for i in range(DECISIONS):
        rule = rng.uniform(0.05, 0.95, size=3) if with_rules else np.full(3, 0.5)
        truth = rng.beta(weights.rules * rule, weights.rules * (1 - rule))
        tried = rng.integers(0, 25, size=3)
        wins = rng.binomial(tried, truth)
        rules = {o.name: RuleScore(float(r)) for o, r in zip(OPTIONS, rule, strict=True)}
        history = {
            o.name: (float(w), float(t - w)) for o, w, t in zip(OPTIONS, wins, tried, strict=True)
        }
        choice = choose(OPTIONS, rules if with_rules else {}, history, weights, seed=i)
        assert choice.chosen is not None
        confidence[i] = choice.confidence
        succeeded[i] = rng.random() < truth[OPTIONS.index(choice.chosen)]
    return confidence, succeeded


@pytest.mark.slow
@pytest.mark.parametrize("with_rules", [True, False], ids=["rules-and-history", "history"])
def test_decisions_at_confidence_c_succeed_about_c_of_the_time(with_rules: bool) -> None:
    confidence, succeeded = _simulate(Weights(rules=4), with_rules=with_rules, seed=11)
    edges = np.linspace(0, 1, 11)
    which = np.clip(np.digitize(confidence, edges) - 1, 0, 9)
    gaps = []
    for b in range(10):
        members = which == b
        if members.sum() < 300:
            continue
        gap = abs(confidence[members].mean() - succeeded[members].mean())
        gaps.append((b, int(members.sum()), gap))
        assert gap < 0.05, f"bin {edges[b]:.1f}-{edges[b + 1]:.1f}: {gap:.3f}"
    assert len(gaps) >= 4
    expected_error = sum(n * gap for _, n, gap in gaps) / DECISIONS
    assert expected_error < 0.025


@pytest.mark.slow
def test_an_overconfident_rule_set_shows_as_miscalibration() -> None:
    """The check can fail: rules that claim 0.9 for options that succeed half the time
    give confidences well above the observed rate when history is thin."""
    rng = np.random.default_rng(3)
    gaps = []
    for i in range(2_000):
        truth = rng.uniform(0.3, 0.7, size=3)
        rules = {o.name: RuleScore(0.9) for o in OPTIONS}
        choice = choose(OPTIONS, rules, {}, Weights(), seed=i)
        assert choice.chosen is not None
        gaps.append(choice.confidence - truth[OPTIONS.index(choice.chosen)])
    assert float(np.mean(gaps)) > 0.3
