"""Workflows, runs and approvals served alone. The daemon is not started, so its workflow
engine is not running: what needs the engine says so, what reads the store answers."""

from __future__ import annotations

from pathlib import Path

from reconciler.api import runs
from tests.api import groups

NOT_RUNNING = {"error": "the workflow engine is not running yet"}


def test_runs_and_approvals_alone_before_the_engine_runs(tmp_path: Path) -> None:
    with groups.served(groups.daemon_for(tmp_path), runs.routes) as client:
        assert client.get("/api/v1/workflows").json() == {"workflows": []}
        missing = client.get("/api/v1/runs/nope")
        assert missing.status_code == 404 and "nope" in missing.json()["error"]
        waiting = client.get("/api/v1/approvals")  # read from the store
        assert (waiting.status_code, waiting.json()) == (200, {"approvals": []})
        answer = client.post("/api/v1/approvals/r1/gate", json={"approved": "yes"})
        assert (answer.status_code, answer.json()) == (
            400,
            {"error": "approved must be true or false"},
        )
        bad = client.post("/api/v1/workflows/nightly/run", content=b"[1]")
        assert (bad.status_code, bad.json()) == (400, {"error": "body must be a JSON object"})
        answer = client.post("/api/v1/approvals/r1/gate", json={"approved": True})
        assert (answer.status_code, answer.json()) == (400, NOT_RUNNING)  # answered by an engine
