"""One engine for runbooks: the same runbook run by `reconciler runbook execute` and by the
daemon (a workflow's `runbook` step) leaves the same record, and the safety pack vets the
daemon's runs: refused when it flags what the runbook does not allow, gated by an approval
when the runbook's override allows it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from reconciler import cli
from reconciler.runstate import RunKind, StepRecord
from reconciler.store.retention import RetentionSettings
from reconciler.store.sqlite import SqliteStore
from tests.workflows import helpers
from tests.workflows.helpers import workflow


def runbook(name: str, steps: list[dict[str, Any]], **spec: Any) -> str:
    return json.dumps(
        {
            "apiVersion": "reconciler.dev/v1",
            "kind": "Runbook",
            "metadata": {"name": name},
            "spec": {"type": "maintenance", "steps": steps, **spec},
        }
    )


BOOK = runbook(
    "rotate",
    [
        {
            "name": "show",
            "command": ["echo", '{"count": {{ vars.count }}, "state": "ok"}'],
            "expect": {"stdoutRegex": '"count": 3,', "json": [{"path": "$.state", "equals": "ok"}]},
            "rollback": {"command": ["echo", "undo show"]},
            "timeout": "5s",
        },
        {
            "name": "move",
            "dependsOn": ["show"],
            "command": ["sh", "-c", "echo moved; exit 4"],
            "expect": {"stdout": "moved"},
            "rollback": {"command": ["echo", "undo move"]},
            "timeout": "5s",
        },
        {
            "name": "tell",
            "dependsOn": ["move"],
            "always": True,
            "command": ["echo", "told"],
            "timeout": "5s",
        },
        {"name": "after", "dependsOn": ["move"], "command": ["echo", "never"], "timeout": "5s"},
    ],
    variables=[{"name": "count", "type": "integer", "required": True}],
)
TOOLING = runbook(
    "tooling",
    [{"name": "run", "command": ["{{ vars.tool }}", "/dev/null"], "timeout": "5s"}],
    variables=[{"name": "tool", "required": True}],
)
ALLOWED = runbook(
    "reformat",
    [{"name": "format", "command": ["mkfs.none-such", "/dev/null"], "timeout": "5s"}],
    dangerousCommands={"allow": True, "reason": "the test's device"},
)
MANUAL = [{"manual": {}}]


def call(step: str, name: str, variables: dict[str, Any]) -> dict[str, Any]:
    return {"name": step, "kind": "runbook", "runbook": {"name": name, "variables": variables}}


def comparable(name: str, status: str, attempt: int, error: str | None, output: Any) -> tuple:
    return (name, status, attempt, error, output.get("exitCode"), output.get("stdout"))


def cli_record(repo: Path, tmp_path: Path) -> list[tuple]:
    data = tmp_path / "cli-data"
    args = ["runbook", "execute", str(repo), "rotate", "--var", "count=3"]
    code = cli.main([*args, "--report-dir", str(tmp_path / "report"), "--data-dir", str(data)])
    assert code == 1
    store = SqliteStore(data / "reconciler.db", retention=RetentionSettings())
    try:
        (run,) = store.list_runs(kind=RunKind.RUNBOOK)
    finally:
        store.close()
    assert run.error == "step move failed: exit code 4, expected 0"
    steps: list[StepRecord] = list(run.steps)
    return sorted(comparable(s.name, s.status.value, s.attempt, s.error, s.output) for s in steps)


def test_the_cli_and_the_daemon_leave_the_same_record(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    helpers.make(
        repo,
        {
            "runbooks/rotate.yaml": BOOK,
            "runbooks/tooling.yaml": TOOLING,
            "runbooks/reformat.yaml": ALLOWED,
            "workflows/go.yaml": workflow(
                "go", triggers=MANUAL, steps=[call("book", "rotate", {"count": "3"})]
            ),
            "workflows/unsafe.yaml": workflow(
                "unsafe", triggers=MANUAL, steps=[call("book", "tooling", {"tool": "mkfs.x"})]
            ),
            "workflows/gated.yaml": workflow(
                "gated", triggers=MANUAL, steps=[call("book", "reformat", {})]
            ),
            "workflows/direct.yaml": workflow(
                "direct", triggers=MANUAL, steps=[{"name": "wipe", "command": ["mkfs", "x"]}]
            ),
        },
    )
    from_cli = cli_record(repo, tmp_path)
    assert [(s[0], s[1]) for s in from_cli] == [
        ("after", "skipped"),
        ("move", "failed"),
        ("show", "succeeded"),
        ("show.rollback", "succeeded"),
        ("tell", "succeeded"),
    ]
    with helpers.served(tmp_path, repo) as running:
        started = running.post("/api/v1/workflows/go/run", json={})
        parent = helpers.finished_run(running, started.json()["run"])
        child_id = f"{parent['id']}/book#1"
        child = running.get(f"/api/v1/runs/{quote(child_id, safe='/')}").json()
        assert (child["kind"], child["status"], child["variables"]) == (
            "runbook",
            "failed",
            {"count": 3},
        )
        from_daemon = sorted(
            comparable(s["name"], s["status"], s["attempt"], s["error"], s["output"])
            for s in child["steps"]
        )
        assert from_daemon == from_cli

        refused = running.post("/api/v1/workflows/direct/run", json={})
        assert (refused.status_code, refused.json()) == (
            400,
            {"error": "workflow direct: the safety policy refuses its commands: wipe: mkfs x"},
        )

        unsafe = running.post("/api/v1/workflows/unsafe/run", json={})
        done = helpers.finished_run(running, unsafe.json()["run"])
        assert done["error"] == (
            "step book failed: runbook tooling: the safety policy refuses its commands:"
            " run: mkfs.x /dev/null"
        )

        gated = running.post("/api/v1/workflows/gated/run", json={}).json()["run"]
        running.wait_for(
            lambda: running.get("/api/v1/approvals").json()["approvals"] != [],
            "the safety approval",
        )
        [asked] = running.get("/api/v1/approvals").json()["approvals"]
        assert (asked["runId"], asked["step"]) == (f"{gated}/book#1", "dangerous-commands")
        assert asked["prompt"] == (
            "runbook reformat runs commands the safety policy flags"
            " (format: mkfs.none-such /dev/null); allowed because: the test's device. Run it?"
        )
        answer = {"approved": False, "approver": "oncall"}
        running.post(
            f"/api/v1/approvals/{quote(asked['runId'], safe='/')}/dangerous-commands", json=answer
        )
        child = helpers.finished_run(running, quote(f"{gated}/book#1", safe="/"))
        assert helpers.steps(child) == {"dangerous-commands": "failed", "format": "skipped"}
