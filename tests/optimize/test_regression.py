"""Regression detection: a real shift is flagged with its effect, noise and a shift too
small to matter are not, and the direction of "worse" is the metric's."""

from __future__ import annotations

import numpy as np
import pytest

from reconciler.optimize.regression import compare


def series(level: float, *, seed: int, n: int = 60) -> np.ndarray:
    return level * np.random.default_rng(seed).lognormal(0, 0.2, size=n)


def test_a_clear_slowdown_is_a_regression() -> None:
    verdict = compare(series(100, seed=1), series(130, seed=2))
    assert verdict.regressed
    assert verdict.p_value < 0.001
    assert verdict.effect == pytest.approx(0.3, abs=0.1)
    assert verdict.reason.startswith("worse by ")


def test_the_same_distribution_is_not() -> None:
    verdict = compare(series(100, seed=1), series(100, seed=2))
    assert not verdict.regressed
    assert verdict.reason.startswith("no significant change")


def test_a_significant_but_tiny_change_is_not() -> None:
    before = np.full(500, 100.0) + np.random.default_rng(0).normal(0, 0.5, 500)
    verdict = compare(before, before + 2.0)  # 2%: certain, and under the 5% minimum
    assert verdict.p_value < 1e-9
    assert not verdict.regressed
    assert verdict.reason.startswith("significant but small: 2.0%")


def test_for_throughput_lower_is_worse() -> None:
    drop = compare(series(100, seed=1), series(70, seed=2), higher_is_worse=False)
    rise = compare(series(100, seed=1), series(130, seed=2), higher_is_worse=False)
    assert (drop.regressed, rise.regressed) == (True, False)


def test_windows_need_samples() -> None:
    with pytest.raises(ValueError, match="at least 3 samples"):
        compare([1.0, 2.0], [1.0, 2.0, 3.0])
