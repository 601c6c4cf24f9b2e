"""A metric trigger against a real Prometheus server scraping a real exporter: the
workflow starts only once the threshold held for `for:`, once per breach, and again after
the condition cleared and came back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from prometheus_client import Gauge

from reconciler.run import triggers
from tests import prometheus
from tests.workflows import helpers

pytestmark = pytest.mark.slow


@pytest.fixture
def load(tmp_path: Path) -> Iterator[tuple[Gauge, str]]:
    """A gauge served by an exporter and a Prometheus server scraping it; (gauge, url)."""
    for served in prometheus.serve(tmp_path, ["app_load"]):
        yield served.gauges["app_load"], served.url


def value(url: str) -> float | None:
    return prometheus.Served(url=url, gauges={}).value("app_load")


wait_until = prometheus.wait_until


def test_a_metric_trigger_fires_after_its_condition_held_for_its_duration(
    tmp_path: Path, load: tuple[Gauge, str]
) -> None:
    gauge, url = load
    repo = tmp_path / "repo"
    helpers.make(
        repo,
        {
            "workflows/spike.yaml": helpers.workflow(
                "spike",
                triggers=[{"metric": {"query": "app_load", "op": ">", "value": 5, "for": "2s"}}],
                steps=[helpers.echo("shed", "load is {{ vars.values }}")],
            )
        },
    )
    settings = {"prometheus": {"url": url, "interval": prometheus.SCRAPE}}
    with helpers.served(tmp_path, repo, **settings) as running:
        gauge.set(10)
        seen = wait_until(lambda: value(url) == 10.0, "the high load in prometheus")
        wait_until(lambda: time.time() > seen + 1.2, "most of the for: duration")
        assert helpers.runs_of(running, "spike") == []
        running.wait_for(lambda: helpers.runs_of(running, "spike") != [], "the first run")
        [first] = helpers.runs_of(running, "spike")
        started = datetime.fromisoformat(first["started_at"]).timestamp()
        assert started >= seen + 2 - 0.3  # the daemon may have seen it one poll earlier
        assert first["trigger"] == "metric"
        run = helpers.finished_run(running, first["id"])
        assert run["variables"] == {"query": "app_load", "values": [10.0]}

        wait_until(lambda: time.time() > started + 1.0, "more polls of the same breach")
        assert len(helpers.runs_of(running, "spike")) == 1

        gauge.set(0)
        cleared = wait_until(lambda: value(url) == 0.0, "the load to clear")
        wait_until(lambda: time.time() > cleared + 0.6, "the daemon to see it clear")
        gauge.set(20)
        again = wait_until(lambda: value(url) == 20.0, "the second breach")
        running.wait_for(lambda: len(helpers.runs_of(running, "spike")) == 2, "a second run")
        second = helpers.runs_of(running, "spike")[0]
        assert datetime.fromisoformat(second["started_at"]).timestamp() >= again + 2 - 0.3


def test_the_client_reads_samples_and_names_a_refused_query(load: tuple[Gauge, str]) -> None:
    """Prometheus answers a bad query with a 400 and its error as JSON: the error is shown."""
    url = load[1]
    client = triggers.Prometheus(url, timeout=5)
    assert [s.value for s in client.query("app_load")] == [0.0]
    with pytest.raises(triggers.QueryFailed) as caught:
        client.query("app_load{")
    assert str(caught.value).startswith("prometheus query 'app_load{': ")
    assert "parse error" in str(caught.value)
