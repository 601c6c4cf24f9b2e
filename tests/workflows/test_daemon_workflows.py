"""Workflows in a served daemon: Git decides what is scheduled; git, webhook and manual
triggers start runs; approvals, cancelling and metrics over the HTTP API."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

import pytest

from reconciler.reconcile.workflows import job_name
from tests import gitrepo
from tests.api import live
from tests.workflows import helpers
from tests.workflows.helpers import echo, workflow

TOKEN_ENV = "RECONCILER_TEST_WORKFLOW_TOKEN"


def jobs(running: live.Live) -> list[str]:
    return [n for n in running.daemon.scheduler.names() if n.startswith("workflow:")]


def test_git_decides_which_workflows_are_scheduled(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    tick = workflow(
        "tick",
        triggers=[{"cron": "0 2 * * *"}, {"manual": {}}, {"interval": "1h"}],
        steps=[echo("a")],
    )
    helpers.make(repo, {"workflows/tick.yaml": tick})
    with helpers.served(tmp_path, repo) as running:
        running.wait_for(
            lambda: jobs(running) == [job_name("tick", 0), job_name("tick", 2)], "the jobs of tick"
        )
        listed = running.get("/api/v1/workflows").json()["workflows"]
        assert [w["name"] for w in listed] == ["tick"]
        assert listed[0]["triggers"] == [{"cron": "0 2 * * *"}, {"manual": {}}, {"interval": "1h"}]
        cron_at = running.daemon.scheduler.next_run(job_name("tick", 0))
        assert cron_at is not None and (cron_at.hour, cron_at.minute) == (2, 0)
        assert sorted(datetime.fromisoformat(t) for t in listed[0]["nextRuns"]) == sorted(
            [cron_at, running.daemon.scheduler.next_run(job_name("tick", 2))]
        )
        assert listed[0]["lastRun"] is None

        changed = workflow("tick", triggers=[{"cron": "30 3 * * *"}], steps=[echo("a")])
        gitrepo.commit(repo, {"workflows/tick.yaml": changed})
        helpers.sync(running)
        running.wait_for(lambda: jobs(running) == [job_name("tick", 0)], "one job left")
        later = running.daemon.scheduler.next_run(job_name("tick", 0))
        assert later is not None and (later.hour, later.minute) == (3, 30)

        gitrepo.commit(repo, {}, delete=["workflows/tick.yaml"])
        helpers.sync(running)
        running.wait_for(lambda: jobs(running) == [], "no workflow jobs")
        assert running.get("/api/v1/workflows").json() == {"workflows": []}


def test_an_interval_trigger_starts_runs(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    helpers.make(
        repo,
        {
            "workflows/often.yaml": workflow(
                "often", triggers=[{"interval": "1s"}], steps=[echo("a")]
            )
        },
    )
    with helpers.served(tmp_path, repo) as running:
        running.wait_for(lambda: len(helpers.runs_of(running, "often")) >= 2, "two runs")
        run = helpers.runs_of(running, "often")[-1]
        assert run["trigger"] == "interval"
        assert helpers.finished_run(running, run["id"])["status"] == "succeeded"


def test_a_git_trigger_fires_only_for_changes_under_its_paths(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    helpers.make(
        repo,
        {
            "workflows/on-resources.yaml": workflow(
                "on-resources", triggers=[{"git": {"paths": ["resources/**"]}}], steps=[echo("a")]
            )
        },
    )
    config_map = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n"
    with helpers.served(tmp_path, repo) as running:
        gitrepo.commit(repo, {"docs/readme.md": "hello\n"})
        helpers.sync(running)
        sha = gitrepo.commit(repo, {"resources/deep/config.yaml": config_map})
        helpers.sync(running)
        running.wait_for(lambda: helpers.runs_of(running, "on-resources") != [], "a run")
        time.sleep(0.3)  # a second run, if the docs commit had fired one, would show now
        found = helpers.runs_of(running, "on-resources")
        assert [r["trigger"] for r in found] == [f"git:{sha[:12]}"]
        run = helpers.finished_run(running, found[0]["id"])
        assert run["variables"] == {"revision": sha, "changed": ["resources/deep/config.yaml"]}
        assert run["revision"] == sha
        assert helpers.steps(run) == {"a": "succeeded"}


def test_a_generic_webhook_starts_a_workflow_with_a_webhook_trigger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, "hook-t0ken")
    repo = tmp_path / "repo"
    helpers.make(
        repo,
        {
            "workflows/hooked.yaml": workflow(
                "hooked", triggers=[{"webhook": {}}], steps=[echo("greet", "hello {{ vars.who }}")]
            ),
            "workflows/other.yaml": workflow("other", triggers=[{"manual": {}}], steps=[echo("a")]),
        },
    )
    headers = {"X-Reconciler-Token": "hook-t0ken"}
    with helpers.served(tmp_path, repo, webhooks={"genericTokenEnv": TOKEN_ENV}) as running:
        body = {"workflow": "hooked", "variables": {"who": "alice"}}
        answer = running.post("/webhooks/generic", json=body, headers=headers)
        assert (answer.status_code, answer.json()) == (
            202,
            {"kind": "other", "triggered": ["workflow:hooked"]},
        )
        running.wait_for(lambda: helpers.runs_of(running, "hooked") != [], "a run")
        run = helpers.finished_run(running, helpers.runs_of(running, "hooked")[0]["id"])
        assert run["trigger"] == "webhook"
        greet = next(s for s in run["steps"] if s["name"] == "greet")
        assert greet["output"]["stdout"] == "hello alice\n"

        refused = running.post("/webhooks/generic", json={"workflow": "other"}, headers=headers)
        assert refused.json()["triggered"] == []
        wrong = running.post("/webhooks/generic", json=body, headers={"X-Reconciler-Token": "nope"})
        assert (wrong.status_code, wrong.json()) == (
            401,
            {"error": "X-Reconciler-Token does not match"},
        )
        bad = running.post(
            "/webhooks/generic", json={"workflow": "hooked", "variables": [1]}, headers=headers
        )
        assert (bad.status_code, bad.json()) == (
            400,
            {"error": "payload is invalid: variables: Input should be a valid dictionary"},
        )
        assert running.triggers == [("wf", "startup")]  # no delivery synced a source
        assert len(helpers.runs_of(running, "hooked")) == 1


GATED = workflow(
    "gated",
    triggers=[{"manual": {}}],
    steps=[
        echo("first", "{{ vars.n }}"),
        {
            "name": "gate",
            "kind": "approval",
            "dependsOn": ["first"],
            "approval": {"message": "go on?", "approvers": ["alice"], "timeout": "1h"},
        },
        echo("last", dependsOn=["gate"]),
    ],
)
SLOW = workflow(
    "slow", triggers=[{"manual": {}}], steps=[{"name": "sleep", "command": ["sleep", "30"]}]
)


def test_manual_runs_approvals_and_cancelling_over_the_api(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    helpers.make(
        repo,
        {
            "workflows/gated.yaml": GATED,
            "workflows/slow.yaml": SLOW,
            "workflows/timed.yaml": workflow(
                "timed", triggers=[{"cron": "0 2 * * *"}], steps=[echo("a")]
            ),
        },
    )
    with helpers.served(tmp_path, repo) as running:
        started = running.post("/api/v1/workflows/gated/run", json={"variables": {"n": 7}})
        assert started.status_code == 202
        run_id = started.json()["run"]
        assert started.json() == {"run": run_id, "workflow": "gated"}

        running.wait_for(
            lambda: running.get("/api/v1/approvals").json()["approvals"] != [],
            "the approval to be asked",
        )
        [asked] = running.get("/api/v1/approvals").json()["approvals"]
        assert asked.pop("since")
        assert asked == {
            "runId": run_id,
            "kind": "workflow",
            "workflow": "gated",
            "step": "gate",
            "prompt": "go on?",
            "approvers": ["alice"],
            "timeout": "1h",
            "resume": False,
        }
        assert running.get(f"/api/v1/runs/{run_id}").json()["status"] == "waiting"

        refused = running.post(
            f"/api/v1/approvals/{run_id}/gate", json={"approved": True, "approver": "bob"}
        )
        assert (refused.status_code, refused.json()) == (
            409,
            {"error": "bob may not approve step gate; approvers: alice"},
        )
        answer = running.post(
            f"/api/v1/approvals/{run_id}/gate",
            json={"approved": True, "approver": "alice", "comment": "fine"},
        )
        assert answer.status_code == 202
        run = helpers.finished_run(running, run_id)
        assert helpers.steps(run) == {
            "first": "succeeded",
            "gate": "succeeded",
            "last": "succeeded",
        }
        assert run["variables"] == {"n": 7}
        gate = next(s for s in run["steps"] if s["name"] == "gate")
        assert gate["output"]["approver"] == "alice" and gate["output"]["comment"] == "fine"
        assert not any(s["name"].startswith("#") for s in run["steps"])
        [gated] = [
            w for w in running.get("/api/v1/workflows").json()["workflows"] if w["name"] == "gated"
        ]
        assert gated["lastRun"]["id"] == run_id and gated["lastRun"]["status"] == "succeeded"

        slow = running.post("/api/v1/workflows/slow/run").json()["run"]
        running.wait_for(
            lambda: (
                helpers.steps(running.get(f"/api/v1/runs/{slow}").json()).get("sleep") == "running"
            ),
            "the slow step to start",
        )
        assert running.post(f"/api/v1/runs/{slow}/cancel").status_code == 202
        assert helpers.finished_run(running, slow)["status"] == "cancelled"
        again = running.post(f"/api/v1/runs/{slow}/resume")
        assert (again.status_code, again.json()) == (
            409,
            {"error": f"run {slow} has finished (cancelled): it cannot resume now"},
        )

        no_manual = running.post("/api/v1/workflows/timed/run")
        assert (no_manual.status_code, no_manual.json()) == (
            409,
            {"error": "workflow timed has no manual trigger"},
        )
        unknown = running.post("/api/v1/workflows/nope/run")
        assert (unknown.status_code, unknown.json()) == (
            404,
            {"error": 'no workflow named "nope" (known: gated, slow, timed)'},
        )
        missing = running.get("/api/v1/runs/nope")
        assert (missing.status_code, missing.json()) == (
            404,
            {"error": "run 'nope' does not exist"},
        )
        bad = running.post(f"/api/v1/approvals/{run_id}/gate", content=b"[")
        assert bad.status_code == 400

        def counted() -> bool:
            text = running.get("/metrics").text
            return (
                'reconciler_runs_total{kind="workflow",status="succeeded"} 1.0' in text
                and 'reconciler_runs_total{kind="workflow",status="cancelled"} 1.0' in text
            )

        running.wait_for(counted, "finished runs in the metrics")
        text = running.get("/metrics").text
        assert 'reconciler_run_steps_total{kind="workflow",status="succeeded"} 3.0' in text
        assert 'reconciler_run_steps_total{kind="workflow",status="cancelled"} 1.0' in text


def test_a_rejected_approval_fails_the_run(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    helpers.make(repo, {"workflows/gated.yaml": GATED})
    with helpers.served(tmp_path, repo) as running:
        run_id = running.post("/api/v1/workflows/gated/run", json={"variables": {"n": 1}}).json()[
            "run"
        ]
        running.wait_for(
            lambda: running.get("/api/v1/approvals").json()["approvals"] != [],
            "the approval to be asked",
        )
        answer = running.post(
            f"/api/v1/approvals/{run_id}/gate",
            content=json.dumps({"approved": False, "approver": "alice", "comment": "not today"}),
        )
        assert answer.json() == {
            "run": run_id,
            "step": "gate",
            "approved": False,
            "approver": "alice",
        }
        run = helpers.finished_run(running, run_id)
        assert run["status"] == "failed"
        assert run["error"] == "step gate failed: rejected by alice: not today"
        assert helpers.steps(run) == {"first": "succeeded", "gate": "failed", "last": "skipped"}


REPLICAS_POLICY = """\
package ops.replicas
import rego.v1

deny contains msg if {
    input.replicas > 5
    msg := sprintf("%d replicas is more than 5", [input.replicas])
}
"""


def test_a_policy_step_branches_on_a_policy_of_the_repository(tmp_path: Path) -> None:
    gate = workflow(
        "scale",
        triggers=[{"manual": {}}],
        steps=[
            {
                "name": "check",
                "kind": "policy",
                "policy": {
                    "policy": "ops.replicas",
                    "input": {"replicas": "{{ vars.n }}"},
                    "allow": ["scale-up"],
                    "deny": ["refuse"],
                },
            },
            echo("scale-up", dependsOn=["check"]),
            echo("refuse", dependsOn=["check"]),
        ],
    )
    repo = tmp_path / "repo"
    helpers.make(repo, {"policies/replicas.rego": REPLICAS_POLICY, "workflows/scale.yaml": gate})
    with helpers.served(tmp_path, repo) as running:
        outcomes = {}
        for n in (3, 9):
            run_id = running.post(
                "/api/v1/workflows/scale/run", json={"variables": {"n": n}}
            ).json()["run"]
            run = helpers.finished_run(running, run_id)
            check = next(s for s in run["steps"] if s["name"] == "check")
            outcomes[n] = (helpers.steps(run), check["output"])
    assert outcomes[3] == (
        {"check": "succeeded", "scale-up": "succeeded", "refuse": "skipped"},
        {"allowed": True, "messages": [], "skipped": ["refuse"]},
    )
    assert outcomes[9] == (
        {"check": "succeeded", "scale-up": "skipped", "refuse": "succeeded"},
        {"allowed": False, "messages": ["9 replicas is more than 5"], "skipped": ["scale-up"]},
    )


def test_a_workflow_splicing_a_variable_into_shell_text_never_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The attack: a `shell: true` step whose author quoted the placeholder, reached through
    the workflow-run API and the generic webhook. The revision holding it is rejected with
    the file and key, the last good one keeps serving, and nothing runs."""
    monkeypatch.setenv(TOKEN_ENV, "hook-t0ken")
    repo, sentinel = tmp_path / "repo", tmp_path / "pwned"
    helpers.make(
        repo,
        {"workflows/other.yaml": workflow("other", triggers=[{"manual": {}}], steps=[echo("a")])},
    )
    attack = workflow(
        "greet",
        triggers=[{"webhook": {}}, {"manual": {}}],
        steps=[{"name": "hi", "shell": True, "command": ["echo", '"hello {{ vars.who }}"']}],
    )
    with helpers.served(tmp_path, repo, webhooks={"genericTokenEnv": TOKEN_ENV}) as running:
        good = running.get("/api/v1/sources/wf").json()["revision"]
        gitrepo.commit(repo, {"workflows/greet.yaml": attack})
        helpers.sync(running)
        source = running.get("/api/v1/sources/wf").json()
        assert (source["revision"], source["rejectedRevision"] is not None) == (good, True)
        events = running.get("/api/v1/events?limit=200").json()["events"]
        [rejected] = [e for e in events if e["type"] == "RevisionRejected"]
        assert rejected["data"]["problems"] == [
            "workflows/greet.yaml:1 spec.steps[0].shell: command[1] holds a template, which the"
            " shell would parse as code: keep the command line fixed and pass values in env"
            ' ("$NAME")'
        ]
        who = {"who": f"$(touch {sentinel})"}
        started = running.post("/api/v1/workflows/greet/run", json={"variables": who})
        assert started.status_code == 404
        hooked = running.post(
            "/webhooks/generic",
            json={"workflow": "greet", "variables": who},
            headers={"X-Reconciler-Token": "hook-t0ken"},
        )
        assert hooked.json()["triggered"] == []
    assert not sentinel.exists()
