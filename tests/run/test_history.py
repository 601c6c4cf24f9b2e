"""Duration statistics from stored runs, and the critical path they imply."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from reconciler.run import history, templating
from reconciler.runstate import RunKind, RunRecord, RunStatus, StepRecord, StepStatus
from reconciler.store import sqlite
from tests.run.helpers import workflow

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _run(index: int, durations: dict[str, float | None]) -> RunRecord:
    steps = []
    for name, seconds in durations.items():
        ok = seconds is not None
        steps.append(
            StepRecord(
                name=name,
                status=StepStatus.SUCCEEDED if ok else StepStatus.FAILED,
                started_at=T0,
                finished_at=T0 + timedelta(seconds=seconds or 0),
            )
        )
    return RunRecord(
        id=f"r{index}",
        kind=RunKind.WORKFLOW,
        name="wf",
        trigger="manual",
        revision=None,
        status=RunStatus.SUCCEEDED,
        steps=tuple(steps),
    )


def test_stats_weigh_recent_runs_and_bound_the_window() -> None:
    runs = [
        _run(i, {"build": float(d), "test": None if i == 2 else 1.0})
        for i, d in enumerate([10, 20, 30, 40])
    ]
    found = history.stats(runs, window=3, alpha=0.5)
    assert found["build"] == history.StepStats(runs=4, successes=4, ewma=31.25, p95=40.0)
    assert found["test"].success_rate == 0.75
    assert history.percentile([5, 1, 4, 2, 3], 95) == 5
    assert history.percentile([], 95) is None


def test_analyze_finds_the_critical_path(store: sqlite.SqliteStore) -> None:
    spec = workflow(
        [
            {"name": "fetch", "command": ["true"], "timeout": "10s"},
            {"name": "lint", "dependsOn": ["fetch"], "kind": "wait", "wait": {"duration": "2s"}},
            {"name": "build", "dependsOn": ["fetch"], "command": ["true"]},
            {"name": "ship", "dependsOn": ["lint", "build"], "command": ["true"]},
        ],
        maxParallelism=2,
    )
    for index in range(3):
        store.create_run(_run(index, {"fetch": 1.0, "build": 5.0, "ship": 1.0}))
    known = asyncio.run(history.load(store, "wf"))
    analysis = history.analyze(spec, history=known)
    assert analysis.critical_path == ("fetch", "build", "ship")
    assert analysis.parallel_groups == (("fetch",), ("lint", "build"), ("ship",))
    assert analysis.expected_duration == 7.0
    assert history.analyze(spec).estimates == {
        "fetch": 10.0,
        "lint": 2.0,
        "build": 1.0,
        "ship": 1.0,
    }


@pytest.mark.parametrize(
    ("template", "scope", "rendered"),
    [
        ("x={{ vars.a }}", {"vars": {"a": 1}}, "x=1"),
        ("{{ vars.a }}", {"vars": {"a": {"k": [1]}}}, '{"k": [1]}'),
        ("{{vars.a}}-{{ vars.b }}", {"vars": {"a": "p", "b": "q"}}, "p-q"),
    ],
)
def test_templates_render_values_as_text(
    template: str, scope: dict[str, object], rendered: str
) -> None:
    assert templating.render(template, scope) == rendered


def test_a_lone_template_keeps_its_type_in_structured_fields() -> None:
    scope = {"vars": {"n": 3}}
    assert templating.render_value({"n": "{{ vars.n }}", "s": "n{{ vars.n }}"}, scope) == {
        "n": 3,
        "s": "n3",
    }
