"""Optimizations through the daemon's HTTP server on loopback: a run on demand
(`POST /api/v1/optimizations/run`), the JSON API, the dashboard's Optimizations pages and
the `reconciler_optimizations` metric, against a real Prometheus and a real repository;
and the scheduled run of `optimization.interval`."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.clock import SystemClock
from reconciler.optimize import catalog, proposals, schedule
from reconciler.store.retention import RetentionSettings
from reconciler.store.sqlite import SqliteStore
from tests import gitrepo, prometheus
from tests.api import live
from tests.optimize.test_optimization_runs import SETTINGS, WEBAPP, steady
from tests.prometheus import Served

pytestmark = pytest.mark.slow


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    yield from prometheus.serve(tmp_path, ["app_cpu", "app_latency_seconds"])


def test_a_run_on_demand_shows_in_the_api_the_dashboard_and_the_metrics(
    tmp_path: Path, served: Served
) -> None:
    repo = tmp_path / "repo"
    gitrepo.make_repo(repo, {"reconciler.yaml": SETTINGS, "resources/web.yaml": WEBAPP})
    source = {"name": "shop", "path": str(repo), "ref": "main", "interval": "1h"}
    settings = live.settings_for(tmp_path / "data", source, prometheus={"url": served.url})
    steady(served, cpu=0.3, latency=0.1, seconds=4.5)
    with live.serve(settings, run_daemon=False) as running:
        answer = running.post("/api/v1/optimizations/run", json={})
        assert answer.status_code == 200, answer.text
        [made] = answer.json()["proposals"]
        assert (made["state"], made["old"], made["new"]) == ("landed", 2.0, 0.42)

        listing = running.get("/api/v1/optimizations").json()
        [listed] = listing["optimizations"]
        assert listed == made
        assert listing["flagged"]["bindings"] == []  # the run's: no binding in this repository
        one = running.get(f"/api/v1/optimizations/{made['id']}").json()
        assert [t["value"] for t in one["change"]["tradeoff"]] == [0.33, 0.36, 0.42]
        assert one["simulationDetail"]["verdict"] == "passes"
        assert one["regression"] is None and one["explanation"]
        assert (one["landedBy"], one["landedCommit"]) == ("daemon", made["commit"])
        assert one["flagged"] == [] and one["runId"] == listing["flagged"]["runId"]
        assert running.get("/api/v1/optimizations/nope").status_code == 404

        page = running.get("/optimizations").text
        assert f'href="/optimizations/{made["id"]}">sizing/web-cpu</a>' in page
        detail = running.get(f"/optimizations/{made['id']}").text
        assert "Trade-off" in detail and "Not measured yet" in detail
        metrics = running.get("/metrics").text
        assert 'reconciler_optimizations{state="landed",type="optimization"} 1.0' in metrics

        audited = running.get("/api/v1/audit").json()["entries"]
        taken = [e for e in audited if e["type"] == "DecisionTaken"]
        assert [e["data"]["decision"] for e in taken] == [made["id"]]
        assert taken[0]["data"]["state"] == "landed"

        bad = running.post("/api/v1/optimizations/run", json={"source": "nope"})
        assert bad.status_code == 400 and 'no source \\"nope\\"' in bad.text


def test_runs_are_scheduled_every_optimization_interval(tmp_path: Path, served: Served) -> None:
    repo = tmp_path / "repo"
    every = SETTINGS.replace("    approval: auto\n", "    approval: auto\n    interval: 1s\n")
    gitrepo.make_repo(repo, {"reconciler.yaml": every, "resources/web.yaml": WEBAPP})
    store = SqliteStore(tmp_path / "optimize.db", retention=RetentionSettings())
    ws = proposals.Workspace(repo=repo, ref="main", store=store, clock=SystemClock())
    steady(served, cpu=0.3, latency=0.1, seconds=4.5)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    task = threading.Thread(
        target=loop.run_until_complete,
        args=(schedule.scheduled(stop, workspaces=[ws], prometheus=served.url, tick=0.1),),
    )
    task.start()
    try:
        prometheus.wait_until(lambda: catalog.listed(store) != [], "a scheduled run", timeout=60)
    finally:
        loop.call_soon_threadsafe(stop.set)
        task.join(timeout=60)
        loop.close()
    [made] = catalog.listed(store)
    assert catalog.summary(made)["state"] == "landed"
    assert gitrepo.git(repo, "show", "main:resources/web.yaml") + "\n" == WEBAPP.replace(
        "cpu: 2.0 ", "cpu: 0.42"
    )
