"""Simulations served alone: requests go to the daemon's simulation service, which runs
them on its worker threads against the real repository and records them in the store."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from reconciler.api import simulations
from reconciler.api.deps import Deps
from reconciler.store.interfaces import SimulationStatus
from tests.api import groups

BODY_ERROR = 'body must be {"source": name, "base": rev, "head": rev}, each a non-empty string'


def _simulations(deps: Deps) -> list[Any]:
    return simulations.routes(deps.store, simulator=deps.simulations)


def _finished(client: httpx.Client, sim_id: str) -> dict[str, Any]:
    for _ in range(1500):
        found: dict[str, Any] = client.get(f"/api/v1/simulations/{sim_id}").json()
        if found["status"] not in (SimulationStatus.QUEUED, SimulationStatus.RUNNING):
            return found
        time.sleep(0.02)
    raise AssertionError(f"simulation {sim_id} did not finish")


def test_a_simulation_started_by_hand_is_queued_run_and_listed(tmp_path: Path) -> None:
    with groups.served(groups.daemon_for(tmp_path), _simulations) as client:
        started = client.post(
            "/api/v1/simulations", json={"source": "demo", "base": "main", "head": "nowhere"}
        )
        assert started.status_code == 202
        sim_id = started.json()["simulation"]
        assert started.json() == {"simulation": sim_id, "status": "queued"}
        found = _finished(client, sim_id)
        assert (found["status"], found["conclusion"]) == ("failed", "failure")
        assert found["summary"].startswith('could not simulate: revision "nowhere" not found')
        listed = client.get("/api/v1/simulations?source=demo").json()["simulations"]
        assert [s["id"] for s in listed] == [sim_id]
        text = client.get(f"/api/v1/simulations/{sim_id}/markdown")
        assert text.headers["content-type"] == "text/markdown; charset=utf-8"
        assert "could not run" in text.text


def test_unusable_requests_are_refused_and_start_nothing(tmp_path: Path) -> None:
    with groups.served(groups.daemon_for(tmp_path), _simulations) as client:
        cases = [
            (client.get("/api/v1/simulations?pr=x"), 400),
            (client.post("/api/v1/simulations", content=b"{"), 400),
            (client.post("/api/v1/simulations", json={"source": "demo"}), 400),
            (
                client.post("/api/v1/simulations", json={"source": "no", "base": "a", "head": "b"}),
                404,
            ),
            (client.get("/api/v1/simulations/nope"), 404),
        ]
        found = [(r.status_code, r.json()["error"]) for r, _ in cases]
        assert [status for status, _ in found] == [status for _, status in cases]
        assert found[0][1] == "query parameter pr: must be a non-negative integer, got 'x'"
        assert found[1][1].startswith("body is not JSON: ")
        assert found[2][1] == BODY_ERROR
        assert found[3][1] == 'no source named "no" (known: demo)'
        assert found[4][1] == 'no simulation "nope"'
        assert client.get("/api/v1/simulations").json() == {"simulations": []}
