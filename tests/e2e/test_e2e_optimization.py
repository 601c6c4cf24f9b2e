"""The README's optimization tour, end to end: a repository made by `reconciler init`, a real
`reconciler serve` following it, a real Prometheus scraping a test exporter whose series
the test sets. An optimization run asked of the daemon's API proposes a sizing commit with
its simulation report and lands it; the daemon applies it; a planted regression of the
objective is detected by the next run and the revert lands and is applied too. The shipped
settings are used as they are, except for the windows (seconds instead of an hour) and the
approval (`auto`, so the daemon commits without a human)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import gitrepo, prometheus
from tests.e2e import harness
from tests.e2e.conftest import Launch
from tests.prometheus import Served

pytestmark = pytest.mark.slow

SERVICE = harness.ROOT / "repo-template" / "resources" / "services" / "web-service.yaml"
CPU, LATENCY = "web_service_cpu_cores", "web_service_latency_seconds"
SHIPPED = """\
    interval: 1h                # a run every hour under `reconciler serve` (0s: on demand)
    approval: confidence        # the decision's confidence says who must merge a proposal
    weights: {cost: 1, performance: 1, reliability: 1}
    regression: {window: 1h, step: 15s, alpha: 0.01, minEffect: 0.05}
"""
FAST = """\
    interval: 0s
    approval: auto
    weights: {cost: 1, performance: 1, reliability: 1}
    regression: {window: 4s, step: 250ms, alpha: 0.05, minEffect: 0.1}
"""


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    yield from prometheus.serve(tmp_path, [CPU, LATENCY])


def init(tmp_path: Path) -> Path:
    repo = tmp_path / "example"
    made = subprocess.run(
        [sys.executable, "-m", "reconciler", "init", str(repo)],
        capture_output=True,
        text=True,
        env=harness.environment(tmp_path),
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    settings = (repo / "reconciler.yaml").read_text()
    assert SHIPPED in settings and "        lookback: 1h\n" in settings
    quick = settings.replace(SHIPPED, FAST)
    quick = quick.replace("lookback: 1h", "lookback: 4s\n        step: 250ms")
    gitrepo.git(repo, "config", "user.email", "tour@example.com")
    gitrepo.git(repo, "config", "user.name", "Tour")
    (repo / "reconciler.yaml").write_text(quick)
    gitrepo.git(repo, "commit", "-qam", "Optimize in seconds for the tour")
    return repo


def hold(served: Served, *, cpu: float, latency: float, seconds: float) -> None:
    """Set the service's gauges and let Prometheus hold them for `seconds`."""
    served.gauges[CPU].set(cpu)
    served.gauges[LATENCY].set(latency)
    prometheus.wait_until(lambda: served.value(CPU) == cpu, "the new cpu value")
    prometheus.wait_until(lambda: served.value(LATENCY) == latency, "the new latency")
    time.sleep(seconds)


def run_now(daemon: harness.RunningDaemon) -> dict[str, Any]:
    """POST /api/v1/optimizations/run; a run simulates each proposal, so it may take a while."""
    request = urllib.request.Request(
        daemon.url + "/api/v1/optimizations/run", data=b"{}", method="POST"
    )
    with urllib.request.urlopen(request, timeout=180) as answer:
        assert answer.status == 200
        found: dict[str, Any] = json.load(answer)
        return found


def web_service(repo: Path) -> str:
    return gitrepo.git(repo, "show", "main:resources/services/web-service.yaml")


def applied_cpu(data: Path) -> float | None:
    """The cpu the example's provider last applied to the service (None: not yet)."""
    state = data / "files" / "services" / "web-service.json"
    return float(json.loads(state.read_text())["cpu"]) if state.exists() else None


def test_the_example_proposes_a_sizing_commit_and_rolls_back_a_planted_regression(
    tmp_path: Path, served: Served, launch: Launch
) -> None:
    repo = init(tmp_path)
    data = tmp_path / "data"
    config = tmp_path / "daemon.yaml"
    config.write_text(
        json.dumps(
            {
                "dataDir": str(data),
                "http": {"port": 0},
                "prometheus": {"url": served.url},
                "sources": [{"name": "example", "path": str(repo), "ref": "main"}],
            }
        )
    )
    daemon = launch(["--config", str(config), "--file-root", str(tmp_path), "--interval", "1s"])
    harness.eventually(lambda: _equal(applied_cpu(data), 1.0), what="the example applied")
    hold(served, cpu=0.3, latency=0.1, seconds=4.5)

    first = run_now(daemon)

    sizing = [p for p in first["proposals"] if p["subject"] == "sizing/web-cpu"]
    assert len(sizing) == 1, first
    [made] = sizing
    assert (made["state"], made["old"], made["new"]) == ("landed", 1.0, 0.42)
    assert made["simulation"] == "passes"
    assert gitrepo.git(repo, "rev-parse", "main") == made["commit"]
    shipped = SERVICE.read_text().rstrip("\n")
    assert web_service(repo) == shipped.replace("cpu: 1.0  ", "cpu: 0.42 ")  # comment kept
    report = daemon.get(f"/api/v1/optimizations/{made['id']}")
    assert report["simulationDetail"]["denials"] == []
    assert [t["value"] for t in report["change"]["tradeoff"]] == [0.33, 0.36, 0.42]
    assert "p95 of web_service_cpu_cores is 0.3" in report["change"]["reason"]
    harness.eventually(lambda: _equal(applied_cpu(data), 0.42), what="the sizing applied")

    hold(served, cpu=0.3, latency=0.3, seconds=4.5)  # the planted regression
    second = run_now(daemon)

    [revert] = [p for p in second["proposals"] if p["type"] == "optimization-revert"]
    assert revert["state"] == "landed" and (revert["old"], revert["new"]) == (0.42, 1.0)
    assert gitrepo.git(repo, "rev-parse", "main") == revert["commit"]
    assert web_service(repo) == shipped
    original = daemon.get(f"/api/v1/optimizations/{made['id']}")
    assert original["state"] == "reverted" and original["revert"] == revert["id"]
    assert original["regression"]["regressed"] is True
    assert (original["regression"]["beforeMedian"], original["regression"]["afterMedian"]) == (
        0.1,
        0.3,
    )
    harness.eventually(lambda: _equal(applied_cpu(data), 1.0), what="the revert applied")


def _equal(found: float | None, wanted: float) -> None:
    assert found == wanted, found


@pytest.mark.parametrize("reach", ["none", "unreachable"])
def test_the_example_runs_without_a_prometheus_and_says_what_it_skipped(
    tmp_path: Path, reach: str
) -> None:
    repo = tmp_path / "example"
    env = harness.environment(tmp_path)
    cli = [sys.executable, "-m", "reconciler"]
    subprocess.run([*cli, "init", str(repo)], check=True, env=env, capture_output=True)
    before = gitrepo.git(repo, "rev-parse", "HEAD")
    url = f"http://127.0.0.1:{prometheus.free_port()}"  # nothing listens there
    where = ["--prometheus", url] if reach == "unreachable" else []
    run = [*cli, "optimize", "run", str(repo), "--data-dir", str(tmp_path / "data"), *where]

    done = subprocess.run([*run, "--format", "json"], env=env, capture_output=True, text=True)

    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["proposals"] == []
    [sizing] = [s for s in answer["skipped"] if s.startswith("sizing/")]
    if reach == "none":
        assert sizing == (
            "sizing/web-cpu: no Prometheus to read metrics from (the daemon's prometheus.url)"
        )
    else:
        assert sizing.startswith(f"sizing/web-cpu: prometheus at {url}: ")
    flagged = "\n".join(answer["flagged"])  # no history yet: every binding is flagged
    assert "policies/bindings.yaml:7 require-owner-labels (k8s.required_labels)" in flagged
    assert gitrepo.git(repo, "rev-parse", "HEAD") == before
