"""The `workflow` verbs: analyze from a repository and recorded durations; run, status,
approve, cancel and pause against a served daemon (a finished run refused), and what a
reply forwarded to another replica is said as."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.cli import workflow as workflow_cli
from reconciler.runstate import RunKind, RunRecord, RunStatus, StepRecord, StepStatus
from reconciler.store.retention import RetentionSettings
from reconciler.store.sqlite import SqliteStore
from tests.workflows import helpers
from tests.workflows.helpers import echo, workflow

DIAMOND = workflow(
    "diamond",
    triggers=[{"manual": {}}],
    steps=[
        echo("a", timeout="10s"),
        {"name": "b", "kind": "wait", "wait": {"duration": "5s"}, "dependsOn": ["a"]},
        echo("c", timeout="2s", dependsOn=["a"]),
        echo("d", dependsOn=["b", "c"], timeout="1s"),
    ],
)


def record(tmp_path: Path, durations: dict[str, float]) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    store = SqliteStore(data / "reconciler.db", retention=RetentionSettings())
    start = datetime(2026, 1, 1, tzinfo=UTC)
    steps = tuple(
        StepRecord(
            name=n,
            status=StepStatus.SUCCEEDED,
            started_at=start,
            finished_at=start + timedelta(seconds=s),
        )
        for n, s in durations.items()
    )
    store.create_run(
        RunRecord(
            id="r1",
            kind=RunKind.WORKFLOW,
            name="diamond",
            trigger="api",
            revision=None,
            status=RunStatus.SUCCEEDED,
            steps=steps,
            started_at=start,
        )
    )
    store.close()
    return data


def test_analyze_estimates_from_timeouts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    helpers.make(tmp_path / "repo", {"workflows/diamond.yaml": DIAMOND})
    assert main(["workflow", "analyze", "diamond", str(tmp_path / "repo")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:6] == [
        "no recorded durations of diamond (no --data-dir): the estimates are the steps' "
        "waits and timeouts (1.0s for a step with neither)",
        "critical path: a -> b -> d",
        "expected duration: 16.0s",
        "stage 1: a",
        "stage 2: b, c (can run in parallel)",
        "stage 3: d",
    ]
    assert out[7].split() == ["a", "10.0s", "estimate"]


def test_analyze_says_when_the_store_has_no_durations_of_the_workflow(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    helpers.make(tmp_path / "repo", {"workflows/diamond.yaml": DIAMOND})
    data = tmp_path / "data"
    data.mkdir()
    SqliteStore(data / "reconciler.db", retention=RetentionSettings()).close()
    code = main(["workflow", "analyze", "diamond", str(tmp_path / "repo"), "--data-dir", str(data)])
    assert code == 0
    assert capsys.readouterr().out.splitlines()[0] == (
        f"no recorded durations of diamond in {data}: the estimates are the steps' waits "
        "and timeouts (1.0s for a step with neither)"
    )


def test_analyze_shows_durations_under_a_second_in_milliseconds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    helpers.make(tmp_path / "repo", {"workflows/diamond.yaml": DIAMOND})
    data = record(tmp_path, {"a": 0.25, "b": 0.5, "c": 0.012, "d": 0.1})
    code = main(["workflow", "analyze", "diamond", str(tmp_path / "repo"), "--data-dir", str(data)])
    assert code == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == ["critical path: a -> b -> d", "expected duration: 850ms"]
    assert [line.split() for line in out[6:]] == [
        ["a", "250ms", "recorded"],
        ["b", "500ms", "recorded"],
        ["c", "12ms", "recorded"],
        ["d", "100ms", "recorded"],
    ]


def test_analyze_prefers_recorded_durations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    helpers.make(tmp_path / "repo", {"workflows/diamond.yaml": DIAMOND})
    data = record(tmp_path, {"a": 1, "b": 5, "c": 30, "d": 1})
    code = main(["workflow", "analyze", "diamond", str(tmp_path / "repo"), "--data-dir", str(data)])
    assert code == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == ["critical path: a -> c -> d", "expected duration: 32.0s"]
    assert out[8].split() == ["c", "30.0s", "recorded"]


def test_analyze_names_the_known_workflows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    helpers.make(tmp_path / "repo", {"workflows/diamond.yaml": DIAMOND})
    assert main(["workflow", "analyze", "nope", str(tmp_path / "repo")]) == 1
    assert capsys.readouterr().err == 'error: no workflow named "nope" (known: diamond)\n'


GATED = workflow(
    "gated",
    triggers=[{"manual": {}}],
    steps=[
        echo("first", "{{ vars.n }}"),
        {
            "name": "gate",
            "kind": "approval",
            "dependsOn": ["first"],
            "approval": {"message": "ok?"},
        },
    ],
)


def test_run_status_and_approve_against_the_daemon(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    helpers.make(repo, {"workflows/gated.yaml": GATED})
    with helpers.served(tmp_path, repo) as running:
        url = ["--url", running.base_url]
        assert main(["workflow", "run", "gated", "--var", "n=3", *url]) == 0
        run_id = capsys.readouterr().out.split()[2]
        running.wait_for(
            lambda: running.get("/api/v1/approvals").json()["approvals"] != [], "the approval"
        )
        assert main(["workflow", "status", *url]) == 0
        out = capsys.readouterr().out
        assert f"{run_id}  gate" in out and out.rstrip().endswith("ok?")
        assert main(["workflow", "approve", run_id, "gate", "--approver", "carol", *url]) == 0
        assert capsys.readouterr().out == f"approved step gate of run {run_id} as carol\n"
        run = helpers.finished_run(running, run_id)
        assert run["variables"] == {"n": 3} and run["status"] == "succeeded"
        assert main(["workflow", "status", run_id, *url]) == 0
        assert capsys.readouterr().out.splitlines()[0] == (
            f"run {run_id} (workflow gated): succeeded"
        )
        assert running.get(f"/api/v1/runs/{run_id}").json()["trigger"] == "cli"
        assert main(["workflow", "status", run_id[:8], *url]) == 0
        assert capsys.readouterr().out.splitlines()[0] == (
            f"run {run_id} (workflow gated): succeeded"
        )
        assert main(["workflow", "pause", run_id[:8], *url]) == 1
        assert capsys.readouterr().err == (
            f"error: POST /api/v1/runs/{run_id}/pause: HTTP 409: run {run_id} has finished"
            " (succeeded): it cannot pause now\n"
        )
        assert main(["workflow", "cancel", "nope", *url]) == 1
        assert capsys.readouterr().err == (
            'error: no run id starts with "nope" (of the newest 1000 runs)\n'
        )
        missing = "0" * 36
        assert main(["workflow", "cancel", missing, *url]) == 1
        assert capsys.readouterr().err == (
            f"error: POST /api/v1/runs/{missing}/cancel: HTTP 404: run '{missing}' does not exist\n"
        )


def test_a_forwarded_reply_says_where_it_went() -> None:
    assert workflow_cli.forwarded_to({"run": "r1", "action": "cancel"}) is None
    assert workflow_cli.forwarded_to({"forwardedTo": "r2"}) == (
        "replica r2, which runs it: done on its next heartbeat"
    )
    assert workflow_cli.forwarded_to({"forwardedTo": "source:alpha"}) == (
        "the owner of source alpha: done once it claims the run"
    )
