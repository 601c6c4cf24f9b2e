"""The example repository's remediation tour, on a real `reconciler serve` process.

On-call scales the example service to 9 replicas by hand; the audit finds the live state
above the `replica-ceiling` binding's ceiling; the daemon decides to run the
`scale-web-service` runbook, and the repository's decision rule (0.75, no history yet)
makes it wait for an operator; once approved the runbook scales the service back, a fresh
audit finds it compliant and the decision is recorded as succeeded. The decision is then
listed, shown and replayed with the CLI from the daemon's data directory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import harness
from tests.e2e.conftest import Launch
from tests.e2e.test_e2e_workflows import example_repo

pytestmark = pytest.mark.slow
SUBJECT = "replica-ceiling/ExecResource//web-service"


def cli(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", "decisions", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=harness.environment(tmp),
        cwd=tmp,
    )


def test_a_hand_scaled_service_is_remediated_after_an_operator_approves(
    tmp_path: Path, launch: Launch
) -> None:
    repo, data = example_repo(tmp_path), tmp_path / "data"
    daemon = launch(harness.serve_args(repo, data_dir=data, extra=["--audit-interval", "1s"]))
    state = data / "files" / "services" / "web-service.json"

    def applied() -> None:
        assert state.exists()

    harness.eventually(applied, what="the example service")
    live = json.loads(state.read_text())
    state.write_text(json.dumps({**live, "replicas": 9}))  # on-call scales by hand

    def pending() -> dict[str, Any]:
        found = daemon.get(f"/api/v1/daemon/decisions?subject={SUBJECT}")["decisions"]
        assert len(found) == 1 and found[0]["runId"], found
        found = found[0]
        return dict(found)

    decision = harness.eventually(pending, what="the remediation decision")
    assert (decision["option"], decision["level"], decision["outcome"]) == (
        "runbook:scale-web-service",
        "operator",
        "pending",
    )

    def asked() -> dict[str, Any]:
        questions = daemon.get("/api/v1/approvals")["approvals"]
        assert len(questions) == 1, questions
        return dict(questions[0])

    question = harness.eventually(asked, what="the approval question")
    assert question["prompt"] == (
        "ExecResource//web-service violates replica-ceiling: web-service runs 9 replicas by"
        " hand; the ceiling is 4. Run runbook scale-web-service?"
    )
    assert json.loads(state.read_text())["replicas"] == 9
    status, _ = daemon.request(
        f"/api/v1/approvals/{question['runId']}/approve",
        method="POST",
        body=json.dumps({"approved": True, "approver": "oncall"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert status == 202

    def settled() -> dict[str, Any]:
        found: dict[str, Any] = daemon.get(f"/api/v1/daemon/decisions/{decision['id']}")
        assert found["outcome"] != "pending"
        return found

    record = harness.eventually(settled, what="the decision to settle", timeout=60)
    assert (record["outcome"], record["approver"]) == ("succeeded", "oncall")
    assert json.loads(state.read_text())["replicas"] == 2
    standing = daemon.get("/api/v1/violations")["violations"]
    assert [v for v in standing if v["binding"] == "replica-ceiling"] == []

    listed = cli(tmp_path, "list", "--data-dir", str(data))
    assert listed.returncode == 0, listed.stderr
    [line] = listed.stdout.splitlines()
    assert line.split()[4:] == [
        SUBJECT,
        "runbook:scale-web-service",
        "0.75",
        "operator",
        "succeeded",
    ]
    shown = cli(tmp_path, "show", decision["id"][:8], "--data-dir", str(data))
    assert shown.returncode == 0, shown.stderr
    assert "chose runbook:scale-web-service with confidence 0.75" in shown.stdout
    assert "scaling back to the ceiling only undoes a manual change" in shown.stdout
    assert "outcome: succeeded by oncall — re-evaluated after the run: compliant" in shown.stdout
    replay = cli(tmp_path, "replay", decision["id"], str(repo), "--data-dir", str(data))
    assert replay.returncode == 0, replay.stderr
    assert "confidence: 0.750 -> 0.800" in replay.stdout  # the success is history now
