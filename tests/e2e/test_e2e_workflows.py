"""Workflows in the daemon process: the example repository's workflow is scheduled and runs
when started by hand (over the CLI), and a run survives the daemon being killed twice:
finished steps are not repeated, an interrupted idempotent step runs again, and an
interrupted step that is not idempotent waits for a human's approval."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests import gitrepo
from tests.e2e import harness
from tests.e2e.conftest import Launch
from tests.e2e.repos import settings

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def cli(daemon: harness.RunningDaemon, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", "workflow", *args, "--url", daemon.url],
        capture_output=True,
        text=True,
        timeout=60,
        env=harness.environment(tmp),
        cwd=tmp,
    )


def example_repo(tmp: Path) -> Path:
    """The example repository as shipped: everything it writes is under the data dir."""
    repo = tmp / "example"
    shutil.copytree(ROOT / "repo-template", repo)
    gitrepo.make_repo(repo, {})
    return repo


def next_two_am(now: datetime) -> datetime:
    at = now.replace(hour=2, minute=0, second=0, microsecond=0)
    return at if at > now else at + timedelta(days=1)


def finished(daemon: harness.RunningDaemon, run_id: str) -> dict[str, Any]:
    def check() -> dict[str, Any]:
        run: dict[str, Any] = daemon.get(f"/api/v1/runs/{quote(run_id, safe='/')}")
        assert run["status"] in ("succeeded", "failed", "cancelled"), run["status"]
        return run

    return harness.eventually(check, what=f"run {run_id} to finish", timeout=60)


def test_the_example_workflow_is_scheduled_and_runs_by_hand(tmp_path: Path, launch: Launch) -> None:
    repo = example_repo(tmp_path)
    daemon = launch(harness.serve_args(repo, data_dir=tmp_path / "data"))
    until(lambda: daemon.get("/api/v1/workflows")["workflows"], "the workflow")
    [backup] = daemon.get("/api/v1/workflows")["workflows"]
    assert backup["name"] == "nightly-backup" and backup["path"] == "workflows/nightly-backup.yaml"
    [at] = backup["nextRuns"]
    assert datetime.fromisoformat(at) == next_two_am(datetime.now().astimezone())

    def applied() -> None:
        assert (tmp_path / "data" / "files" / "motd").exists()

    harness.eventually(applied, what="the example's files")

    listed = cli(daemon, tmp_path, "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[1].split()[:2] == ["nightly-backup", "cron,"]
    started = cli(daemon, tmp_path, "run", "nightly-backup", "--wait")
    assert started.returncode == 0, started.stdout + started.stderr
    run_id = started.stdout.split()[2]
    run = finished(daemon, run_id)
    assert (run["status"], run["trigger"]) == ("succeeded", "cli")
    steps = {s["name"]: s for s in run["steps"]}
    assert list(steps) == ["prepare", "archive", "verify", "checksum"]
    archived = steps["verify"]["output"]["stdout"].splitlines()
    assert {"files/", "files/motd", "files/services/web-service.json"} <= set(archived)
    archive = (tmp_path / "data").resolve() / "backups" / "nightly.tgz"
    assert steps["checksum"]["output"]["stdout"].endswith(f"  {archive}\n")
    shown = cli(daemon, tmp_path, "status", run_id)
    assert shown.stdout.splitlines()[0] == f"run {run_id} (workflow nightly-backup): succeeded"
    assert 'reconciler_runs_total{kind="workflow",status="succeeded"} 1.0' in daemon.text(
        "/metrics"
    )


def step(name: str, script: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "command": ["sh", "-c", script], **extra}


def resumable(log: Path, pids: Path) -> str:
    def slow(name: str) -> str:
        return (
            f"echo $$ > {pids / name}; echo {name}-start >> {log}; sleep 3; "
            f"echo {name}-done >> {log}"
        )

    return json.dumps(
        {
            "apiVersion": "reconciler.dev/v1",
            "kind": "Workflow",
            "metadata": {"name": "resumable"},
            "spec": {
                "triggers": [{"manual": {}}],
                "steps": [
                    step("once", f"echo once >> {log}"),
                    step("idem", slow("idem"), dependsOn=["once"], idempotent=True),
                    step("risky", slow("risky"), dependsOn=["idem"]),
                    step("after", f"echo after >> {log}", dependsOn=["risky"]),
                ],
            },
        }
    )


def crash(daemon: harness.RunningDaemon, pid_file: Path) -> None:
    """SIGKILL the daemon, and the step it was running as a machine crash would."""
    daemon.process.send_signal(signal.SIGKILL)
    daemon.wait()
    os.killpg(int(pid_file.read_text()), signal.SIGKILL)


def lines(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


def until(condition: Any, what: str) -> None:
    def check() -> None:
        assert condition(), what

    harness.eventually(check, what=what, timeout=60)


def test_a_run_resumes_after_the_daemon_is_killed(tmp_path: Path, launch: Launch) -> None:
    log, pids, repo = tmp_path / "side-effects.log", tmp_path / "pids", tmp_path / "repo"
    pids.mkdir()
    gitrepo.make_repo(repo, {**settings(), "workflows/resumable.yaml": resumable(log, pids)})
    args = harness.serve_args(repo, data_dir=tmp_path / "data")
    first = launch(args, name="first")
    until(lambda: first.get("/api/v1/workflows")["workflows"], "the workflow")
    status, answer = first.request(
        "/api/v1/workflows/resumable/run", method="POST", body=b'{"variables": {}}'
    )
    assert status == 202, answer
    run_id = answer["run"]
    until(lambda: lines(log) == ["once", "idem-start"], "idem to start")
    crash(first, pids / "idem")

    second = launch(args, name="second")
    until(lambda: lines(log)[-1:] == ["risky-start"], "risky to start")
    assert lines(log) == ["once", "idem-start", "idem-start", "idem-done", "risky-start"]
    crash(second, pids / "risky")

    third = launch(args, name="third")

    def asked() -> dict[str, Any]:
        items = third.get("/api/v1/approvals")["approvals"]
        assert len(items) == 1, items  # retried until the resumed run asks
        return dict(items[0])

    question = harness.eventually(asked, what="the question about risky")
    assert (question["runId"], question["step"], question["resume"]) == (run_id, "risky", True)
    assert question["prompt"].startswith("was running when the engine stopped")
    until(lambda: third.get(f"/api/v1/runs/{run_id}")["status"] == "waiting", "waiting")
    assert lines(log) == ["once", "idem-start", "idem-start", "idem-done", "risky-start"]
    status, answer = third.request(
        f"/api/v1/approvals/{run_id}/risky",
        method="POST",
        body=json.dumps({"approved": True, "approver": "oncall", "comment": "checked"}).encode(),
    )
    assert status == 202, answer
    run = finished(third, run_id)
    assert run["status"] == "succeeded"
    assert lines(log) == [
        "once",
        "idem-start",
        "idem-start",
        "idem-done",
        "risky-start",
        "risky-start",
        "risky-done",
        "after",
    ]
    attempts = [(s["name"], s["attempt"], s["status"]) for s in run["steps"]]
    assert ("once", 1, "succeeded") in attempts and ("once", 2, "succeeded") not in attempts
    assert ("risky", 1, "interrupted") in attempts and ("risky", 2, "succeeded") in attempts
    assert not [a for a in attempts if a[2] == "running"]
