"""The scaling optimizer: an autoscaler's target utilisation and replica bounds from its
utilisation, replicas and latency. The table is checked on known series, and end to end
against a real Prometheus server scraping series the test sets: the three proposals are
commits of the autoscaler's document, keeping its comments."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.clock import SystemClock
from reconciler.optimize import proposals, runner, scaling
from reconciler.optimize.records import State, state_of
from reconciler.run import triggers
from reconciler.specs.optimization import Scaling, Weights
from reconciler.store.retention import RetentionSettings
from reconciler.store.sqlite import SqliteStore
from tests import gitrepo, prometheus
from tests.prometheus import Served

ITEM = Scaling.model_validate(
    {
        "name": "web",
        "resource": {"kind": "Autoscaler", "name": "web"},
        "utilisation": "u",
        "replicas": "r",
        "latency": "l",
        "latencyObjective": 0.2,
        "objective": {"query": "l"},
    }
)


def test_the_target_is_the_hottest_level_whose_latency_held() -> None:
    # Utilisation 0.55 to 0.85 on 4 replicas; latency went over 0.2 at 0.85 only.
    util = [0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.85]
    latency = [0.1, 0.1, 0.1, 0.12, 0.15, 0.18, 0.3, 0.35]
    scaled = scaling.tune(
        util, [4.0] * 8, latency, current=0.5, current_max=10, item=ITEM, weights=Weights()
    )
    assert [(c["value"], c["performance"]) for c in scaled.candidates] == [
        (0.5, 0.25),  # of the 8 samples at 0.45 or more, 2 were slow
        (0.6, 0.25),
        (0.7, 0.3333),  # 2 of the 6 at 0.65 or more
        (0.8, 0.5),
        (0.9, 1.0),
    ]
    assert [c["score"] for c in scaled.candidates] == [1.25, 1.0833, 1.0476, 1.125, 1.5556]
    # 0.7: fewer replicas than 0.5 or 0.6, and running at 0.8 or more was slow too often
    assert scaled.target == 0.7
    assert (scaled.min_replicas, scaled.max_replicas) == (4, 6)  # p5 2.2 / 0.7; 3.4 x 1.2 / 0.7
    assert scaled.reason == (
        "peak demand 3.4 replicas over 8 samples; at or above 0.7 utilisation 33% of the "
        "latency was over 0.2: target 0.5 -> 0.7; replicas 4..6"
    )


def test_reliability_counts_demand_above_the_current_maximum() -> None:
    scaled = scaling.tune(
        [0.9, 0.9, 0.9],
        [10, 10, 10],
        [0.1] * 3,
        current=0.9,
        current_max=10,
        item=ITEM,
        weights=Weights(),
    )
    rows = {c["value"]: c["reliability"] for c in scaled.candidates}
    assert rows == {0.5: 1.0, 0.6: 1.0, 0.7: 1.0, 0.8: 1.0, 0.9: 0.0}
    assert scaled.target is None and scaled.max_replicas == 12  # 9 x 1.2 / 0.9


def test_missing_or_unreached_inputs_propose_nothing_with_the_reason() -> None:
    none = scaling.tune(
        [0.5, 0.5], [2, 2], [], current=0.5, current_max=4, item=ITEM, weights=Weights()
    )
    assert none.target is None and none.reason == "only 0 paired samples; 3 needed"
    cold = scaling.tune(
        [0.1] * 5, [2] * 5, [0.1] * 5, current=0.5, current_max=4, item=ITEM, weights=Weights()
    )
    assert cold.min_replicas is None and cold.reason == "utilisation never reached 0.5"


SETTINGS = """\
apiVersion: reconciler.dev/v1
kind: Settings
metadata:
  name: shop
spec:
  optimization:
    approval: auto
    scaling:
      - name: web
        resource: {kind: Autoscaler, name: web, namespace: shop}
        targetField: spec.targetCPUUtilizationPercentage
        percent: true
        utilisation: app_utilisation
        replicas: app_replicas
        latency: app_latency_seconds
        latencyObjective: 0.2
        lookback: 4s
        step: 250ms
        objective: {query: app_latency_seconds}
      - name: blind
        resource: {kind: Autoscaler, name: web, namespace: shop}
        targetField: spec.targetCPUUtilizationPercentage
        percent: true
        utilisation: app_utilisation
        replicas: app_replicas
        latency: not_exported_seconds
        latencyObjective: 0.2
        lookback: 4s
        step: 250ms
        objective: {query: app_latency_seconds}
"""
AUTOSCALER = """\
# Scales the storefront; set by hand at launch.
apiVersion: example.dev/v1
kind: Autoscaler
metadata:
  name: web
  namespace: shop
spec:
  targetCPUUtilizationPercentage: 50   # cautious
  minReplicas: 1
  maxReplicas: 20   # the quota
"""


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    yield from prometheus.serve(
        tmp_path, ["app_utilisation", "app_replicas", "app_latency_seconds"]
    )


@pytest.mark.slow
def test_scaling_proposals_are_commits_read_from_prometheus(tmp_path: Path, served: Served) -> None:
    repo = tmp_path / "repo"
    gitrepo.make_repo(repo, {"reconciler.yaml": SETTINGS, "resources/hpa.yaml": AUTOSCALER})
    for name, value in [
        ("app_utilisation", 0.75),
        ("app_replicas", 4),
        ("app_latency_seconds", 0.1),
    ]:
        served.gauges[name].set(value)
        prometheus.wait_until(lambda n=name, v=value: served.value(n) == v, name)
    time.sleep(4.5)
    store = SqliteStore(tmp_path / "optimize.db", retention=RetentionSettings())
    ws = proposals.Workspace(repo=repo, ref="main", store=store, clock=SystemClock())

    result = runner.run(ws, prometheus=triggers.Prometheus(served.url))

    assert [p.context.subject for p in result.proposals] == [
        "scaling/web-target",
        "scaling/web-min",
        "scaling/web-max",
    ]
    assert all(state_of(p) is State.LANDED for p in result.proposals)
    target = result.proposals[0].context.facts["change"]
    assert [r["value"] for r in target["tradeoff"]] == [50.0, 60.0, 70.0, 80.0]
    assert [r["performance"] for r in target["tradeoff"]] == [0.0] * 4  # latency held
    assert (target["old"], target["new"]) == (50.0, 80.0)
    written = gitrepo.git(repo, "show", "main:resources/hpa.yaml") + "\n"
    assert written == (
        AUTOSCALER.replace("Percentage: 50 ", "Percentage: 80 ")
        .replace("minReplicas: 1", "minReplicas: 4")
        .replace("maxReplicas: 20", "maxReplicas: 5 ")  # the comment keeps its column
    )
    assert result.skipped == ("scaling/blind: only 0 paired samples; 3 needed",)
    store.close()
