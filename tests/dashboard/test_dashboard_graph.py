"""The run page's DAG layout and timeline arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime

from reconciler.api.dashboard import graph

T = "2026-01-01T00:00:{:02d}+00:00"


def step(
    name: str, status: str, start: int | None, end: int | None, attempt: int = 1
) -> dict[str, object]:
    return {
        "name": name,
        "status": status,
        "attempt": attempt,
        "started_at": None if start is None else T.format(start),
        "finished_at": None if end is None else T.format(end),
    }


def test_steps_stand_one_column_past_their_deepest_dependency() -> None:
    run = {
        "steps": [step("a", "succeeded", 0, 1), step("b", "running", 1, None)],
        "dag": {"a": [], "b": ["a"], "c": ["a", "b"]},
    }
    laid = graph.layout(run)
    assert [(n.name, n.status, n.x, n.y) for n in laid.nodes] == [
        ("a", "succeeded", 10, 10),
        ("b", "running", 250, 10),
        ("c", "pending", 490, 10),
    ]
    assert [(e.x1, e.x2) for e in laid.edges] == [(190, 250), (190, 490), (430, 490)]
    assert (laid.width, laid.height) == (680, 56)


def test_a_list_dag_and_a_cycle_are_laid_out_without_looping() -> None:
    run = {
        "steps": [],
        "dag": [{"name": "x", "dependsOn": ["y"]}, {"name": "y", "dependsOn": ["x"]}],
    }
    assert [n.name for n in graph.layout(run).nodes] == ["x", "y"]


def test_without_a_dag_the_newest_attempts_stand_in_one_column() -> None:
    run = {
        "steps": [
            step("a", "failed", 0, 1),
            step("a", "succeeded", 1, 2, attempt=2),
            step("b", "pending", None, None),
        ]
    }
    laid = graph.layout(run)
    assert [(n.name, n.status, n.x) for n in laid.nodes] == [
        ("a", "succeeded", 10),
        ("b", "pending", 10),
    ]
    assert laid.edges == ()


def test_the_timeline_places_attempts_on_the_runs_span() -> None:
    run = {
        "steps": [
            step("a", "failed", 0, 2),
            step("a", "succeeded", 2, 8, attempt=2),
            step("b", "running", 8, None),
            step("c", "pending", None, None),
        ]
    }
    bars = graph.timeline(run, now=datetime(2026, 1, 1, 0, 0, 10, tzinfo=UTC))
    assert [(b.name, b.attempt, b.left, b.width, b.label) for b in bars] == [
        ("a", 1, 0.0, 20.0, "2.00 s"),
        ("a", 2, 20.0, 60.0, "6.00 s"),
        ("b", 1, 80.0, 20.0, "2.00 s"),
    ]
