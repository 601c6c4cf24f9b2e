"""Roles are checked in one place, the gate of `api.auth`, for every route group: a viewer
changing anything through the runs, approvals or simulations routes is refused there with
the same message, and nothing reaches the handlers (no simulation is queued)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api import live
from tests.api.test_auth import TOKENS, VIEWER, bearer

CHANGES = [
    ("/api/v1/simulations", {"source": "demo", "base": "main", "head": "main"}),
    ("/api/v1/workflows/nightly/run", {}),
    ("/api/v1/runs/r1/cancel", None),
    ("/api/v1/approvals/r1/gate", {"approved": True}),
]


@pytest.fixture
def guarded(tmp_path: Path, repo: Path) -> Iterator[live.Live]:
    source = {"name": "demo", "path": str(repo), "ref": "main", "interval": "1h"}
    settings = live.settings_for(tmp_path / "data", source, auth={"tokens": TOKENS})
    with live.serve(settings, run_daemon=False) as running:
        yield running


def test_a_viewer_changes_nothing_in_any_group(guarded: live.Live) -> None:
    for path, body in CHANGES:
        r = guarded.post(path, json=body, headers=bearer(VIEWER))
        assert (r.status_code, r.json()) == (
            403,
            {"error": f"vera (viewer) may not POST {path}: needs the operator role"},
        ), path
    assert guarded.daemon.store.list_simulations(limit=10) == []
