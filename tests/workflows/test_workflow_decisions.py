"""A workflow's `decision` step with `options`: the daemon scores them with the
repository's rules and the outcome history, asks a human when the level needs it, runs the
chosen option's steps, and records the run's outcome on the decision."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.workflows import helpers
from tests.workflows.helpers import echo, workflow

SETTINGS = """apiVersion: reconciler.dev/v1
kind: Settings
metadata: {name: wf}
spec:
  providers: {File: file}
  decisions:
    maintenanceWindows: [{name: always, start: "00:00", end: "23:59:59.999999"}]
"""


def rules(package: str, restart: float, scale: float) -> str:
    return f"""package {package}

import rego.v1

score := {{"action:restart": {restart}, "action:scale": {scale}}}

reasons["action:restart"] contains "restarts fix stuck workers" if {{
	input.context.subject == "fix/choose"
}}
"""


def fix(**decision: Any) -> str:
    return workflow(
        "fix",
        triggers=[{"manual": {}}],
        steps=[
            {
                "name": "choose",
                "kind": "decision",
                "decision": {
                    "options": [
                        {"name": "restart", "next": ["do-restart"]},
                        {"name": "scale", "next": ["do-scale"]},
                    ],
                    **decision,
                },
            },
            echo("do-restart", "restarting", dependsOn=["choose"]),
            echo("do-scale", "scaling", dependsOn=["choose"]),
        ],
    )


def start(running: Any) -> str:
    answer = running.post("/api/v1/workflows/fix/run", json={})
    assert answer.status_code == 202, answer.text
    run_id: str = answer.json()["run"]
    return run_id


def test_the_best_option_runs_alone_and_its_outcome_is_recorded(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    helpers.make(
        repo,
        {
            "reconciler.yaml": SETTINGS,
            "policies/decisions.rego": rules("reconciler.decisions.workflow", 0.97, 0.3),
            "workflows/fix.yaml": fix(),
        },
    )
    with helpers.served(tmp_path, repo) as running:
        run = helpers.finished_run(running, start(running))
        assert helpers.steps(run) == {
            "choose": "succeeded",
            "do-restart": "succeeded",
            "do-scale": "skipped",
        }
        chose = next(s for s in run["steps"] if s["name"] == "choose")["output"]
        assert (chose["chosen"], chose["level"]) == ("restart", "autonomous")

        def settled() -> bool:
            found = running.get("/api/v1/daemon/decisions", params={"run": run["id"]}).json()
            return [d["outcome"] for d in found["decisions"]] == ["succeeded"]

        running.wait_for(settled, "the decision to take the run's outcome")
        record = running.get(f"/api/v1/daemon/decisions/{chose['decision']}").json()
        assert record["context"]["subject"] == "fix/choose"
        restart = next(s for s in record["choice"]["scores"] if s["option"]["target"] == "restart")
        assert restart["rule_reasons"] == ["restarts fix stuck workers"]
        assert record["note"] == "the run succeeded"


def test_a_doubtful_choice_waits_for_a_human_and_uses_the_named_rules(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    helpers.make(
        repo,
        {
            "reconciler.yaml": SETTINGS,
            "policies/decisions.rego": rules("team.choices", 0.4, 0.55),
            "workflows/fix.yaml": fix(policy="team.choices"),
        },
    )
    with helpers.served(tmp_path, repo) as running:
        run_id = start(running)
        running.wait_for(
            lambda: running.get("/api/v1/approvals").json()["approvals"] != [], "the question"
        )
        [question] = running.get("/api/v1/approvals").json()["approvals"]
        assert (question["runId"], question["step"], question["approvers"]) == (
            run_id,
            "choose",
            ["role:admin"],
        )
        assert question["prompt"].endswith("Take scale?")
        running.post(
            f"/api/v1/approvals/{run_id}/choose", json={"approved": True, "approver": "ada"}
        )
        run = helpers.finished_run(running, run_id)
        assert helpers.steps(run) == {
            "choose": "succeeded",
            "do-restart": "skipped",
            "do-scale": "succeeded",
        }
        found = running.get("/api/v1/daemon/decisions", params={"run": run_id}).json()
        running.wait_for(
            lambda: (
                running.get("/api/v1/daemon/decisions", params={"run": run_id}).json()["decisions"][
                    0
                ]["outcome"]
                == "succeeded"
            ),
            "the outcome",
        )
        [entry] = found["decisions"]
        record = running.get(f"/api/v1/daemon/decisions/{entry['id']}").json()
        assert (record["level"], record["approver"]) == ("human", "ada")
