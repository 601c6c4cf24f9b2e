"""`reconciler workflow runs` lists the runs recorded in a data directory's store, newest
first, with the steps waiting for an answer; a kind or a status narrows it, and a folder
without a store or a limit below one is refused naming what is wrong."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.run import asks
from reconciler.runstate import RunKind, RunRecord, RunStatus, StepRecord, StepStatus
from reconciler.store.retention import RetentionSettings
from reconciler.store.sqlite import SqliteStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _run(run_id: str, kind: RunKind, *, status: RunStatus, minute: int) -> RunRecord:
    return RunRecord(
        id=run_id,
        kind=kind,
        name=f"{kind.value}-{run_id}",
        trigger="api",
        revision="c" * 40,
        status=status,
        started_at=T0 + timedelta(minutes=minute),
    )


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    store = SqliteStore(folder / "reconciler.db", retention=RetentionSettings())
    try:
        asking = StepRecord(
            name="gate",
            status=StepStatus.WAITING,
            started_at=T0,
            output={asks.ASKED: {"prompt": "ship?", "approvers": []}},
        )
        store.create_run(_run("w1", RunKind.WORKFLOW, status=RunStatus.SUCCEEDED, minute=1))
        waiting = _run("w2", RunKind.WORKFLOW, status=RunStatus.WAITING, minute=3)
        store.create_run(replace(waiting, steps=(asking,)))
        store.create_run(_run("b1", RunKind.RUNBOOK, status=RunStatus.FAILED, minute=2))
        store.create_run(_run("p1", RunKind.RECONCILE, status=RunStatus.SUCCEEDED, minute=4))
    finally:
        store.close()
    return folder


def test_runs_are_listed_newest_first_with_their_waiting_steps(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["workflow", "runs", "--data-dir", str(data), "--format", "json"]) == 0
    found = json.loads(capsys.readouterr().out)["runs"]
    assert [(r["id"], r["kind"], r["status"], r["waiting"]) for r in found] == [
        ("w2", "workflow", "waiting", ["gate"]),
        ("b1", "runbook", "failed", []),
        ("w1", "workflow", "succeeded", []),
    ]  # a reconcile pass is not the engine's
    assert found[0] == {
        "id": "w2",
        "kind": "workflow",
        "name": "workflow-w2",
        "trigger": "api",
        "revision": "c" * 40,
        "status": "waiting",
        "started_at": "2026-01-01T00:03:00+00:00",
        "finished_at": None,
        "error": None,
        "waiting": ["gate"],
    }
    assert main(["workflow", "runs", "--data-dir", str(data), "--limit", "1"]) == 0
    table = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert table == [
        ["RUN", "KIND", "NAME", "STATUS", "TRIGGER", "STARTED", "WAITING"],
        ["w2", "workflow", "workflow-w2", "waiting", "api", "2026-01-01T00:03:00+00:00", "gate"],
    ]


def test_a_kind_or_a_status_narrows_the_list(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["workflow", "runs", "--data-dir", str(data), "--format", "json"]
    assert main([*args, "--kind", "runbook"]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)["runs"]] == ["b1"]
    assert main([*args, "--status", "succeeded"]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)["runs"]] == ["w1"]
    assert main([*args, "--kind", "runbook", "--kind", "workflow", "--status", "failed"]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)["runs"]] == ["b1"]


def test_no_store_and_a_bad_limit_are_refused(
    tmp_path: Path, data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["workflow", "runs", "--data-dir", str(tmp_path / "none")]) == 1
    assert capsys.readouterr().err == (
        f"error: {tmp_path / 'none' / 'reconciler.db'}: no store here"
        " (give the daemon's --data-dir or --store-url)\n"
    )
    assert not (tmp_path / "none").exists()  # never created
    assert main(["workflow", "runs", "--data-dir", str(data), "--limit", "0"]) == 1
    assert capsys.readouterr().err == "error: --limit must be at least 1\n"
