"""A binding's new violation starts the workflows watching it and the binding's remediation
run (approval first, then the bound runbook as a child run)."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

from tests import gitrepo
from tests.api import live
from tests.workflows import helpers
from tests.workflows.helpers import echo, workflow

BINDING = json.dumps(
    {
        "apiVersion": "reconciler.dev/v1",
        "kind": "PolicyBinding",
        "metadata": {"name": "owner"},
        "spec": {
            "policy": "files.owner",
            "scope": {"kinds": ["File"]},
            "enforcement": "strict",
            "remediation": {"runbook": "label-owner", "approval": "required"},
        },
    }
)
RUNBOOK = json.dumps(
    {
        "apiVersion": "reconciler.dev/v1",
        "kind": "Runbook",
        "metadata": {"name": "label-owner"},
        "spec": {
            "type": "incident",
            "variables": [{"name": "name", "required": True}, {"name": "resource"}],
            "steps": [{"name": "fix", "command": ["echo", "fixing {{ vars.name }}"]}],
        },
    }
)


def test_a_new_violation_starts_watching_workflows_and_a_remediation(tmp_path: Path) -> None:
    repo, out = tmp_path / "repo", tmp_path / "out"
    helpers.make(
        repo,
        {
            "policies/owner.rego": live.OWNER_REGO,
            "policies/bindings.yaml": BINDING,
            "runbooks/label-owner.yaml": RUNBOOK,
            "workflows/page.yaml": workflow(
                "page",
                triggers=[{"violation": {"binding": "owner"}}],
                steps=[echo("tell", "{{ vars.resource }}: {{ vars.binding }}")],
            ),
            "resources/motd.yaml": live.file_doc("motd", path=out / "motd", owner="ops"),
        },
    )
    with helpers.served(tmp_path, repo) as running:
        assert running.get("/api/v1/runs?limit=100").json()["runs"][0]["kind"] == "reconcile"
        gitrepo.commit(
            repo,
            {"resources/banner.yaml": live.file_doc("banner", path=out / "banner", owner=None)},
        )
        helpers.sync(running)

        running.wait_for(lambda: helpers.runs_of(running, "page") != [], "the page run")
        page = helpers.finished_run(running, helpers.runs_of(running, "page")[0]["id"])
        assert page["trigger"] == "violation:owner"
        tell = next(s for s in page["steps"] if s["name"] == "tell")
        assert tell["output"]["stdout"] == "File//banner: owner\n"

        # The remediation is decided beside the page run, not after it: wait for it too.
        running.wait_for(lambda: helpers.runs_of(running, "remediate-owner") != [], "the fix")
        [fix] = helpers.runs_of(running, "remediate-owner")
        assert (fix["kind"], fix["trigger"]) == ("remediation", "violation:owner")
        running.wait_for(
            lambda: running.get("/api/v1/approvals").json()["approvals"] != [],
            "the remediation to ask",
        )
        [asked] = running.get("/api/v1/approvals").json()["approvals"]
        assert (asked["runId"], asked["kind"], asked["step"]) == (
            fix["id"],
            "remediation",
            "approve",
        )
        assert asked["prompt"] == (
            "File//banner violates owner: banner has no owner. Run runbook label-owner?"
        )
        running.post(
            f"/api/v1/approvals/{fix['id']}/approve", json={"approved": True, "approver": "oncall"}
        )
        done = helpers.finished_run(running, fix["id"])
        assert helpers.steps(done) == {"approve": "succeeded", "remediate": "succeeded"}
        child = next(s for s in done["steps"] if s["name"] == "remediate")["output"]
        assert child["steps"]["fix"]["stdout"] == "fixing banner\n"
        book = running.get(f"/api/v1/runs/{quote(child['runId'], safe='/')}").json()
        assert (book["kind"], book["name"], book["status"]) == (
            "runbook",
            "label-owner",
            "succeeded",
        )
        assert book["variables"] == {"name": "banner", "resource": "File//banner"}

        helpers.sync(running)  # the violation stands: nothing new starts
        assert len(helpers.runs_of(running, "page")) == 1
        assert len(helpers.runs_of(running, "remediate-owner")) == 1
