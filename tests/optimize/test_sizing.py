"""The sizing optimizer's candidates and the trade-off between its objectives."""

from __future__ import annotations

from reconciler.optimize import sizing
from reconciler.specs.optimization import Sizing, Weights

ITEM = Sizing.model_validate(
    {
        "name": "web-cpu",
        "resource": {"kind": "WebApp", "name": "web"},
        "field": "spec.cpu",
        "query": "app_cpu",
        "objective": {"query": "app_latency_seconds"},
    }
)


def test_equal_weights_avoid_running_hot() -> None:
    sized = sizing.size([0.3] * 10, current=2.0, sizing=ITEM, weights=Weights())
    assert [c.value for c in sized.candidates] == [0.33, 0.36, 0.42]
    assert [c.performance for c in sized.candidates] == [1.0, 1.0, 0.0]
    assert sized.chosen is not None and sized.chosen.value == 0.42
    assert sized.reason == "p95 of app_cpu is 0.3; with 40% headroom 2 -> 0.42"


def test_cost_alone_picks_the_smallest_value() -> None:
    weights = Weights(cost=1, performance=0, reliability=0)
    sized = sizing.size([0.3] * 10, current=2.0, sizing=ITEM, weights=weights)
    assert sized.chosen is not None and sized.chosen.value == 0.33


def test_the_percentile_ignores_the_top_five_percent() -> None:
    samples = [0.2] * 95 + [5.0] * 5
    sized = sizing.size(samples, current=1.0, sizing=ITEM, weights=Weights())
    assert sized.percentile == 0.2
    assert [c.reliability for c in sized.candidates] == [0.05, 0.05, 0.05]


def test_no_proposal_within_the_minimum_change_or_without_samples() -> None:
    near = sizing.size([0.3] * 10, current=0.42, sizing=ITEM, weights=Weights())
    assert near.chosen is None and near.reason == "0.42 is within 5% of 0.42"
    empty = sizing.size([], current=1.0, sizing=ITEM, weights=Weights())
    assert empty.chosen is None and empty.reason == "only 0 utilisation samples; 3 needed"


def test_the_current_value_must_be_a_number() -> None:
    body = {"spec": {"cpu": 2, "name": "x", "on": True}}
    assert sizing.current_value(body, "spec.cpu") == 2.0
    assert sizing.current_value(body, "spec.name") is None
    assert sizing.current_value(body, "spec.on") is None
    assert sizing.current_value(body, "spec.missing.deeper") is None
