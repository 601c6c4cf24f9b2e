"""Builders and readers shared by the workflow engine tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from reconciler.clock import SystemClock
from reconciler.run.engine import Engine
from reconciler.runstate import RunRecord, StepRecord, StepStatus
from reconciler.specs import flows
from reconciler.store import sqlite


def workflow(steps: list[dict[str, Any]], *, name: str = "wf", **spec: Any) -> flows.Workflow:
    """A Workflow from YAML-shaped step dicts."""
    return flows.Workflow.model_validate(
        {
            "apiVersion": "reconciler.dev/v1",
            "kind": "Workflow",
            "metadata": {"name": name},
            "spec": {"steps": steps, **spec},
        }
    )


def runbook(steps: list[dict[str, Any]], *, name: str = "rb", **spec: Any) -> flows.Runbook:
    return flows.Runbook.model_validate(
        {
            "apiVersion": "reconciler.dev/v1",
            "kind": "Runbook",
            "metadata": {"name": name},
            "spec": {"type": "maintenance", "steps": steps, **spec},
        }
    )


def latest(run: RunRecord) -> dict[str, StepRecord]:
    """The newest attempt of each step (bookkeeping records left out)."""
    found: dict[str, StepRecord] = {}
    for record in run.steps:
        newer = record.name not in found or record.attempt >= found[record.name].attempt
        if not record.name.startswith("#") and newer:
            found[record.name] = record
    return found


def statuses(run: RunRecord) -> dict[str, StepStatus]:
    return {name: record.status for name, record in latest(run).items()}


def engine(store: sqlite.SqliteStore, **kwargs: Any) -> Engine:
    """An engine on the real clock unless told otherwise."""
    return Engine(store=store, clock=kwargs.pop("clock", SystemClock()), **kwargs)


async def run_to_end(
    store: sqlite.SqliteStore,
    spec: flows.Workflow,
    *,
    variables: dict[str, Any] | None = None,
    **kwargs: Any,
) -> RunRecord:
    """Start `spec` on a fresh engine, wait for it and close the engine."""
    eng = engine(store, **kwargs)
    try:
        return await eng.wait(await eng.start(spec, variables=variables))
    finally:
        await eng.close()


async def until(condition: Callable[[], bool]) -> None:
    """Return once `condition` holds; fail after about five seconds."""
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never held")
