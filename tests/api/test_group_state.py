"""The JSON API of the daemon's state served alone: its own routes and their errors."""

from __future__ import annotations

from pathlib import Path

from reconciler.api import state
from tests.api import groups


def test_sources_resources_and_records_alone(tmp_path: Path) -> None:
    with groups.served(groups.daemon_for(tmp_path), state.routes) as client:
        names = [s["name"] for s in client.get("/api/v1/sources").json()["sources"]]
        assert names == ["demo"]
        assert client.get("/api/v1/sources/demo").json()["name"] == "demo"
        assert client.get("/api/v1/resources").json() == {"resources": []}
        assert client.get("/api/v1/decisions").json() == {"decisions": []}
        assert client.get("/api/v1/runs").json() == {"runs": []}
        paths = client.get("/api/v1/openapi.json").json()["paths"]
        assert {"/api/v1/simulations", "/api/v1/approvals", "/api/v1/audit"} <= set(paths)
        assert client.get("/healthz").status_code == 404  # another group's
        synced = client.post("/api/v1/sync?trigger=cli")
        assert (synced.status_code, synced.json()) == (202, {"triggered": ["demo"]})


def test_errors_name_the_parameter_the_value_and_the_source(tmp_path: Path) -> None:
    with groups.served(groups.daemon_for(tmp_path), state.routes) as client:
        cases = {
            "/api/v1/resources?status=Maybe": (
                400,
                "query parameter status: must be one of True, False, Unknown, got 'Maybe'",
            ),
            "/api/v1/decisions?limit=-1": (
                400,
                "query parameter limit: must not be negative, got -1",
            ),
            "/api/v1/events?since=x": (
                400,
                "query parameter since: must be an integer, got 'x'",
            ),
            "/api/v1/sources/nope": (404, 'no source named "nope" (known: demo)'),
            "/api/v1/resources/File/x": (404, 'no resource "File/x"'),
        }
        for path, (status, message) in cases.items():
            answer = client.get(path)
            assert (answer.status_code, answer.json()) == (status, {"error": message}), path
        refused = client.post("/api/v1/sources/nope/sync")
        assert (refused.status_code, refused.json()) == (
            404,
            {"error": 'no source named "nope" (known: demo)'},
        )
