"""An anomaly trigger against a real Prometheus server scraping a real exporter: a steady
series starts nothing; a sample far out of line with the lookback window starts the
workflow once, with the series' newest value and its robust z-score as variables."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest
from prometheus_client import Gauge

from reconciler.run import anomaly, triggers
from tests.workflows import helpers
from tests.workflows.test_metric_trigger import (  # noqa: F401  (load: the fixture)
    load,
    value,
    wait_until,
)

pytestmark = pytest.mark.slow


def test_a_spike_against_a_steady_baseline_starts_the_workflow_once(
    tmp_path: Path,
    load: tuple[Gauge, str],  # noqa: F811
) -> None:
    gauge, url = load
    repo = tmp_path / "repo"
    trigger = {"anomaly": {"query": "app_load", "lookback": "20s", "step": "1s", "threshold": 5}}
    helpers.make(
        repo,
        {
            "workflows/odd.yaml": helpers.workflow(
                "odd", triggers=[trigger], steps=[helpers.echo("look", "{{ vars.values }}")]
            )
        },
    )
    with helpers.served(tmp_path, repo, prometheus={"url": url, "interval": "500ms"}) as running:
        gauge.set(10)
        steady = wait_until(lambda: value(url) == 10.0, "the baseline in prometheus")
        wait_until(lambda: time.time() > steady + 8, "a baseline of several samples")
        assert helpers.runs_of(running, "odd") == []
        gauge.set(100)
        running.wait_for(lambda: helpers.runs_of(running, "odd") != [], "the anomaly run")
        [first] = helpers.runs_of(running, "odd")
        assert first["trigger"] == "anomaly"
        run = helpers.finished_run(running, first["id"])
        assert run["variables"]["values"] == [100.0]
        assert run["variables"]["scores"] == ["inf"]  # a constant baseline: infinitely far
        started = time.time()
        wait_until(lambda: time.time() > started + 1.5, "more polls of the same breach")
        assert len(helpers.runs_of(running, "odd")) == 1


def test_the_range_client_reads_series(load: tuple[Gauge, str]) -> None:  # noqa: F811
    gauge, url = load
    gauge.set(3)
    wait_until(lambda: value(url) == 3.0, "the value in prometheus")
    client = triggers.Prometheus(url, timeout=5)

    def two_points() -> bool:
        return len(client.query_range("app_load", lookback=5, step=1)[0]) >= 2

    wait_until(two_points, "a second point in the range")
    [series] = client.query_range("app_load", lookback=5, step=1)
    assert series[-1] == 3.0


def test_the_score_is_robust_to_earlier_outliers() -> None:
    baseline = [10.0, 11, 9, 10, 10.5, 9.5, 10, 500]  # one earlier spike
    z = anomaly.robust_z(baseline, 10.2)
    assert z is not None and abs(z) < 1
    assert anomaly.anomalous(anomaly.robust_z(baseline, 30), threshold=3.5, direction="above")
    assert not anomaly.anomalous(anomaly.robust_z(baseline, 30), threshold=3.5, direction="below")
    assert anomaly.robust_z([1.0, 2.0], 5.0) is None  # too few samples
    assert anomaly.robust_z([4.0] * 6, 5.0) == math.inf
