"""Fixtures for the workflow engine tests: a real SQLite store and spec builders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.specs import runs
from reconciler.store import sqlite
from reconciler.store.base import RunRecord, StepRecord, StepStatus
from reconciler.store.retention import RetentionSettings


@pytest.fixture
def store(tmp_path: Path) -> Iterator[sqlite.SqliteStore]:
    opened = sqlite.SqliteStore(tmp_path / "state.db", retention=RetentionSettings())
    yield opened
    opened.close()


def workflow(steps: list[dict[str, Any]], *, name: str = "wf", **spec: Any) -> runs.Workflow:
    """A Workflow from YAML-shaped step dicts."""
    return runs.Workflow.model_validate({
        "apiVersion": "reconciler.dev/v1", "kind": "Workflow", "metadata": {"name": name},
        "spec": {"steps": steps, **spec}})


def runbook(steps: list[dict[str, Any]], *, name: str = "rb", **spec: Any) -> runs.Runbook:
    return runs.Runbook.model_validate({
        "apiVersion": "reconciler.dev/v1", "kind": "Runbook", "metadata": {"name": name},
        "spec": {"type": "maintenance", "steps": steps, **spec}})


def latest(run: RunRecord) -> dict[str, StepRecord]:
    """The newest attempt of each step (bookkeeping records left out)."""
    found: dict[str, StepRecord] = {}
    for record in run.steps:
        if not record.name.startswith("#"):
            if record.name not in found or record.attempt >= found[record.name].attempt:
                found[record.name] = record
    return found


def statuses(run: RunRecord) -> dict[str, StepStatus]:
    return {name: record.status for name, record in latest(run).items()}


def engine(store: sqlite.SqliteStore, **kwargs: Any) -> Any:
    """An engine on the real clock unless told otherwise."""
    from reconciler.clock import SystemClock
    from reconciler.run.engine import Engine

    return Engine(store=store, clock=kwargs.pop("clock", SystemClock()), **kwargs)


async def run_to_end(store: sqlite.SqliteStore, spec: runs.Workflow, *,
                     variables: dict[str, Any] | None = None, **kwargs: Any) -> RunRecord:
    """Start `spec` on a fresh engine, wait for it and close the engine."""
    eng = engine(store, **kwargs)
    try:
        return await eng.wait(await eng.start(spec, variables=variables))  # type: ignore[no-any-return]
    finally:
        await eng.close()
