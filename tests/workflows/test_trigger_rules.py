"""Trigger rules without a daemon: path globs, breach timing, Prometheus result shapes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from reconciler.run import triggers
from reconciler.specs import flows


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("resources/**", "resources/a.yaml", True),
        ("resources/**", "resources/files/deep/a.yaml", True),
        ("resources/**", "policies/a.rego", False),
        ("resources/*.yaml", "resources/a.yaml", True),
        ("resources/*.yaml", "resources/files/a.yaml", False),
        ("**/*.rego", "policies/k8s/a.rego", True),
        ("**/*.rego", "a.rego", True),
        ("data/?.json", "data/a.json", True),
        ("data/?.json", "data/ab.json", False),
        ("/resources/**", "resources/x", True),
        ("a+b/[x].yaml", "a+b/[x].yaml", True),
    ],
)
def test_path_globs(pattern: str, path: str, matches: bool) -> None:
    assert triggers.paths_match([pattern], [path]) is matches


def test_no_patterns_means_any_change_but_not_no_change() -> None:
    assert triggers.paths_match([], ["README.md"]) is True
    assert triggers.paths_match([], []) is False


def metric(**extra: object) -> flows.MetricTrigger:
    return flows.MetricTrigger.model_validate({"query": "up", "op": "<", "value": 1, **extra})


T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_a_breach_fires_once_after_holding_for_its_duration_and_rearms_when_cleared() -> None:
    breach = triggers.Breach(metric(**{"for": "30s"}))
    at = [T0 + timedelta(seconds=s) for s in range(0, 100, 10)]
    fired = [breach.observe(holding=True, now=t) for t in at[:5]]
    assert fired == [False, False, False, True, False]  # 0s,10s,20s held; 30s fires once
    assert breach.observe(holding=False, now=at[5]) is False
    assert [breach.observe(holding=True, now=t) for t in at[6:]] == [False, False, False, True]


def test_an_interrupted_breach_starts_over() -> None:
    breach = triggers.Breach(metric(**{"for": "20s"}))
    assert breach.observe(holding=True, now=T0) is False
    assert breach.observe(holding=False, now=T0 + timedelta(seconds=15)) is False
    assert breach.observe(holding=True, now=T0 + timedelta(seconds=25)) is False
    assert breach.observe(holding=True, now=T0 + timedelta(seconds=44)) is False
    assert breach.observe(holding=True, now=T0 + timedelta(seconds=45)) is True


def test_without_for_a_breach_fires_at_once() -> None:
    assert triggers.Breach(metric()).observe(holding=True, now=T0) is True


def test_conditions_over_samples() -> None:
    low = [triggers.Sample(labels={"job": "a"}, value=0.0)]
    assert triggers.holds(metric(), low) is True
    assert triggers.holds(metric(), [triggers.Sample(labels={}, value=1.0)]) is False
    assert triggers.holds(metric(), []) is False


def test_result_shapes() -> None:
    vector = {"resultType": "vector", "result": [{"metric": {"job": "a"}, "value": [1, "2.5"]}]}
    assert triggers.samples(vector) == [triggers.Sample(labels={"job": "a"}, value=2.5)]
    assert triggers.samples({"resultType": "scalar", "result": [1, "3"]})[0].value == 3.0
    assert triggers.samples({"resultType": "matrix", "result": []}) == []


def test_an_unreachable_server_is_a_transient_failure() -> None:
    client = triggers.Prometheus("http://127.0.0.1:9", timeout=2)
    with pytest.raises(triggers.QueryFailed, match=r"prometheus at http://127\.0\.0\.1:9"):
        client.query("up")
