"""A metric trigger against a real Prometheus server scraping a real exporter: the
workflow starts only once the threshold held for `for:`, once per breach, and again after
the condition cleared and came back."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Gauge, start_http_server

from reconciler.run import triggers
from tests.workflows import helpers

pytestmark = pytest.mark.slow
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
SCRAPE = "200ms"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def load(tmp_path: Path) -> Iterator[tuple[Gauge, str]]:
    """A gauge served by an exporter and a Prometheus server scraping it; (gauge, url)."""
    if not Path(PROMETHEUS).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{PROMETHEUS} is missing; .ci/run installs it")
        pytest.skip("prometheus is not installed")
    registry = CollectorRegistry()
    gauge = Gauge("app_load", "load of the app under test", registry=registry)
    exporter_port = free_port()
    server, thread = start_http_server(exporter_port, addr="127.0.0.1", registry=registry)
    config = tmp_path / "prometheus.yml"
    config.write_text(
        json.dumps(
            {
                "global": {
                    "scrape_interval": SCRAPE,
                    "scrape_timeout": SCRAPE,
                    "evaluation_interval": SCRAPE,
                },
                "scrape_configs": [
                    {
                        "job_name": "app",
                        "static_configs": [{"targets": [f"127.0.0.1:{exporter_port}"]}],
                    }
                ],
            }
        )
    )
    port = free_port()
    with (tmp_path / "prometheus.log").open("w") as log:
        process = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=log,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: value(url) == 0.0, "prometheus to scrape the exporter", timeout=30)
        yield gauge, url
    finally:
        process.terminate()
        process.wait(timeout=30)
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def value(url: str) -> float | None:
    query = urllib.parse.urlencode({"query": "app_load"})
    try:
        with urllib.request.urlopen(f"{url}/api/v1/query?{query}", timeout=2) as response:
            result = json.load(response)["data"]["result"]
    except OSError:
        return None
    return float(result[0]["value"][1]) if result else None


def wait_until(check: object, what: str, *, timeout: float = 20) -> float:
    """Poll `check` every 20 ms; the wall time at which it first held."""
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
    return time.time()


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
    settings = {"prometheus": {"url": url, "interval": SCRAPE}}
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
