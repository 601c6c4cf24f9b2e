"""Repositories with workflows, and a served daemon following one, for the workflow tests."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests import gitrepo
from tests.api import live

SETTINGS = (
    "apiVersion: reconciler.dev/v1\nkind: Settings\nmetadata: {name: wf}\n"
    "spec: {providers: {File: file}}\n"
)


def workflow(
    name: str, *, triggers: list[dict[str, Any]], steps: list[dict[str, Any]], **spec: Any
) -> str:
    """A Workflow document (JSON is YAML)."""
    return json.dumps(
        {
            "apiVersion": "reconciler.dev/v1",
            "kind": "Workflow",
            "metadata": {"name": name},
            "spec": {"triggers": triggers, "steps": steps, **spec},
        }
    )


def echo(name: str, text: str = "ok", **extra: Any) -> dict[str, Any]:
    return {"name": name, "command": ["echo", text], **extra}


def make(path: Path, files: dict[str, str]) -> str:
    return gitrepo.make_repo(path, {"reconciler.yaml": SETTINGS, **files})


@contextlib.contextmanager
def served(tmp_path: Path, repo: Path, **extra: Any) -> Iterator[live.Live]:
    """The daemon following `repo` (interval 1h: tests poke it), after its first pass."""
    settings = live.settings_for(
        tmp_path / "data",
        {"name": "wf", "path": str(repo), "ref": "main", "interval": "1h"},
        **extra,
    )
    with live.serve(settings) as running:
        running.wait_for(lambda: running.passes("wf") >= 1, "the first reconcile")
        yield running


def sync(running: live.Live) -> None:
    """Reconcile now and wait for that pass to finish."""
    before = running.passes("wf")
    assert running.post("/api/v1/sources/wf/sync").status_code == 202
    running.wait_for(lambda: running.passes("wf") > before, "a reconcile after the sync")


def runs_of(running: live.Live, name: str) -> list[dict[str, Any]]:
    found = running.get("/api/v1/runs?limit=1000").json()["runs"]
    return [r for r in found if r["name"] == name]


def finished_run(running: live.Live, run_id: str, *, timeout: float = 30) -> dict[str, Any]:
    def done() -> bool:
        answer = running.get(f"/api/v1/runs/{run_id}").json()
        return answer.get("status") in ("succeeded", "failed", "cancelled")

    running.wait_for(done, f"run {run_id} to finish", timeout=timeout)
    body: dict[str, Any] = running.get(f"/api/v1/runs/{run_id}").json()
    return body


def steps(run: dict[str, Any]) -> dict[str, str]:
    """Newest status of each step."""
    found: dict[str, tuple[int, str]] = {}
    for step in run["steps"]:
        if step["name"] not in found or step["attempt"] >= found[step["name"]][0]:
            found[step["name"]] = (step["attempt"], step["status"])
    return {name: status for name, (_, status) in found.items()}
