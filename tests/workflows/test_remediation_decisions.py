"""Remediation as decisions, end to end on a served daemon following a real Git repository.

The binding `owner` remediates a File without an owner label by running the runbook
`label-owner`, whose script commits the label to the watched repository: the next pass
fetches the fix, re-evaluates, and the violation is gone. The repository's decision rule
scores that runbook 0.75, so with no history the decision needs an operator; with enough
recorded successes in the same context it runs without anyone.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from reconciler.store.daemon_decisions import DecisionEntry
from reconciler.store.retention import RetentionSettings
from reconciler.store.sqlite import SqliteStore
from tests import gitrepo
from tests.api import live
from tests.api.test_auth import ADMIN, OPERATOR, TOKENS, VIEWER, bearer

SETTINGS = """apiVersion: reconciler.dev/v1
kind: Settings
metadata: {name: wf}
spec:
  providers: {File: file}
  decisions:
    maintenanceWindows: [{name: always, start: "00:00", end: "23:59:59.999999"}]
"""
RULES = """package reconciler.decisions.remediation

import rego.v1

score[name] := 0.75 if {
	some option in input.options
	option.target == "label-owner"
	name := option.name
}

reasons[name] contains "labelling is safe in a maintenance window" if {
	some option in input.options
	option.target == "label-owner"
	startswith(input.context.window, "maintenance:")
	name := option.name
}
"""
BUCKET = "remediation|File|maintenance:always"
OPTION = "runbook:label-owner"


def binding(**remediation: Any) -> str:
    how = {"runbook": "label-owner", "approval": "confidence", **remediation}
    return json.dumps(
        {
            "apiVersion": "reconciler.dev/v1",
            "kind": "PolicyBinding",
            "metadata": {"name": "owner"},
            "spec": {
                "policy": "files.owner",
                "scope": {"kinds": ["File"]},
                "enforcement": "advisory",
                "remediation": how,
            },
        }
    )


def runbook(script: Path) -> str:
    return json.dumps(
        {
            "apiVersion": "reconciler.dev/v1",
            "kind": "Runbook",
            "metadata": {"name": "label-owner"},
            "spec": {
                "type": "incident",
                "variables": [{"name": "name", "required": True}],
                "steps": [{"name": "label", "command": [str(script), "{{ vars.name }}"]}],
            },
        }
    )


class Setup:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp, self.repo, self.out = tmp_path, tmp_path / "repo", tmp_path / "out"
        self.data = tmp_path / "data"
        self.fixes = tmp_path / "fixes"
        self.fixes.mkdir()
        self.script = tmp_path / "label.sh"
        self.script.write_text(
            "#!/bin/sh\nset -eu\n"
            f'cp "{self.fixes}/$1.yaml" "{self.repo}/resources/$1.yaml"\n'
            f'git -C "{self.repo}" -c user.name=fix -c user.email=fix@example.com'
            ' commit --quiet -am "label $1"\n'
            f'echo "$1" >> "{tmp_path}/labelled"\n'
        )
        self.script.chmod(0o755)

    def make(self, *, settings: str = SETTINGS, **remediation: Any) -> None:
        gitrepo.make_repo(
            self.repo,
            {
                "reconciler.yaml": settings,
                "policies/owner.rego": live.OWNER_REGO,
                "policies/bindings.yaml": binding(**remediation),
                "policies/decisions.rego": RULES,
                "runbooks/label-owner.yaml": runbook(self.script),
                "resources/motd.yaml": live.file_doc("motd", path=self.out / "motd", owner="ops"),
            },
        )

    def break_(self, name: str) -> None:
        """Commit `name` without an owner; its fix (with one) waits for the runbook."""
        (self.fixes / f"{name}.yaml").write_text(
            live.file_doc(name, path=self.out / name, owner="remediator")
        )
        gitrepo.commit(
            self.repo,
            {f"resources/{name}.yaml": live.file_doc(name, path=self.out / name, owner=None)},
        )

    def labelled(self) -> list[str]:
        path = self.tmp / "labelled"
        return path.read_text().split() if path.exists() else []


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    return Setup(tmp_path)


@pytest.fixture
def serve(setup: Setup) -> Iterator[Any]:
    def start(*, tokens: bool = True) -> Any:
        extra = {"auth": {"tokens": TOKENS}} if tokens else {}
        settings = live.settings_for(
            setup.data,
            {"name": "wf", "path": str(setup.repo), "ref": "main", "interval": "1h"},
            **extra,
        )
        return live.serve(settings)

    yield start


def sync(running: live.Live) -> None:
    before = running.passes("wf")
    answer = running.post("/api/v1/sources/wf/sync", headers=bearer(OPERATOR))
    assert answer.status_code == 202
    running.wait_for(lambda: running.passes("wf") > before, "a reconcile after the sync")


def answer(running: live.Live, question: dict[str, Any], token: str, body: dict[str, Any]) -> Any:
    """Answer the approval `question` as the holder of `token`."""
    return running.post(
        f"/api/v1/approvals/{question['runId']}/approve", json=body, headers=bearer(token)
    )


def decisions(running: live.Live, **query: str) -> list[dict[str, Any]]:
    answer = running.get("/api/v1/daemon/decisions", params=query, headers=bearer(VIEWER))
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["decisions"]
    return found


def decision(running: live.Live, decision_id: str) -> dict[str, Any]:
    answer = running.get(f"/api/v1/daemon/decisions/{decision_id}", headers=bearer(VIEWER))
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def settled(running: live.Live, subject: str) -> dict[str, Any]:
    def done() -> bool:
        found = decisions(running, subject=subject)
        return bool(found) and found[0]["outcome"] != "pending"

    running.wait_for(done, f"the decision on {subject} to settle", timeout=60)
    return decision(running, decisions(running, subject=subject)[0]["id"])


def asked(running: live.Live) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = running.get("/api/v1/approvals", headers=bearer(VIEWER)).json()[
        "approvals"
    ]
    return found


def violating(running: live.Live, name: str) -> bool:
    found = running.get("/api/v1/violations", headers=bearer(VIEWER)).json()["violations"]
    return any(d["resource"]["name"] == name for d in found)


SUBJECT = "owner/File//banner"


def test_a_low_confidence_remediation_waits_for_an_operator_then_fixes_the_violation(
    setup: Setup, serve: Any
) -> None:
    setup.make()
    with serve() as running:
        running.wait_for(lambda: running.passes("wf") >= 1, "the first reconcile")
        setup.break_("banner")
        sync(running)

        running.wait_for(lambda: asked(running) != [], "the remediation to ask")
        [pending] = decisions(running, subject=SUBJECT)
        assert (pending["option"], pending["level"], pending["outcome"]) == (
            OPTION,
            "operator",
            "pending",
        )
        assert pending["confidence"] == pytest.approx(0.75)
        [question] = asked(running)
        assert (question["runId"], question["approvers"]) == (pending["runId"], ["role:operator"])
        refused = answer(running, question, VIEWER, {"approved": True})
        assert refused.status_code == 403
        assert setup.labelled() == []

        answer(running, question, OPERATOR, {"approved": True})
        done = settled(running, SUBJECT)
        assert (done["outcome"], done["approver"], done["note"]) == (
            "succeeded",
            "otto",
            "re-evaluated after the run: compliant",
        )
        assert setup.labelled() == ["banner"]
        assert not violating(running, "banner")
        [score] = done["choice"]["scores"]
        assert (score["rule"], score["rule_reasons"]) == (
            0.75,
            ["labelling is safe in a maintenance window"],
        )
        assert (score["successes"], score["failures"]) == (0, 0)
        assert done["context"]["window"] == "maintenance:always"
        assert "waits for approval by the operator role" in done["explanation"]
        run = running.get(f"/api/v1/runs/{done['run_id']}", headers=bearer(VIEWER)).json()
        assert (run["kind"], run["status"]) == ("remediation", "succeeded")


def seed_history(setup: Setup, *, successes: int, failures: int = 0) -> None:
    """Outcomes of earlier remediations in the same context, as a previous daemon left them."""
    setup.data.mkdir(parents=True, exist_ok=True)
    store = SqliteStore(setup.data / "reconciler.db", retention=RetentionSettings())
    at = datetime(2026, 1, 1, tzinfo=UTC)
    store.add_daemon_decisions(
        DecisionEntry(
            id=f"past-{i}",
            at=at,
            type="remediation",
            subject=f"owner/File//old-{i}",
            bucket=BUCKET,
            option=OPTION,
            level="autonomous",
            confidence=0.9,
            outcome="succeeded" if i < successes else "failed",
            record={},
        )
        for i in range(successes + failures)
    )
    store.close()


def test_enough_successful_history_remediates_without_a_human(setup: Setup, serve: Any) -> None:
    setup.make()
    seed_history(setup, successes=20)
    with serve() as running:
        running.wait_for(lambda: running.passes("wf") >= 1, "the first reconcile")
        setup.break_("banner")
        sync(running)
        done = settled(running, SUBJECT)
        assert (done["level"], done["outcome"], done["approver"]) == (
            "autonomous",
            "succeeded",
            None,
        )
        assert done["choice"]["confidence"] == pytest.approx(23 / 24)
        assert asked(running) == []
        run = running.get(f"/api/v1/runs/{done['run_id']}", headers=bearer(VIEWER)).json()
        assert [s["name"] for s in run["steps"] if not s["name"].startswith("#")] == ["remediate"]
        events = running.get("/api/v1/events?limit=500", headers=bearer(VIEWER)).json()
        types = [
            e["type"] for e in events["events"] if e.get("objectKey") == f"decision/{done['id']}"
        ]
        assert types == ["DecisionTaken", "DecisionSettled"]


def test_a_flapping_violation_keeps_one_remediation_open(setup: Setup, serve: Any) -> None:
    setup.make()
    with serve() as running:
        running.wait_for(lambda: running.passes("wf") >= 1, "the first reconcile")
        setup.break_("banner")
        sync(running)
        running.wait_for(lambda: asked(running) != [], "the remediation to ask")
        for owner in ("someone", None, "someone", None):  # fixed by hand, broken again, ...
            doc = live.file_doc("banner", path=setup.out / "banner", owner=owner)
            gitrepo.commit(setup.repo, {"resources/banner.yaml": doc})
            sync(running)
        assert violating(running, "banner")
        assert len(decisions(running, subject=SUBJECT)) == 1
        assert len(asked(running)) == 1
        runs = running.get("/api/v1/runs?limit=100", headers=bearer(VIEWER)).json()["runs"]
        assert len([r for r in runs if r["kind"] == "remediation"]) == 1


def test_an_unanswered_approval_takes_the_declared_default(setup: Setup, serve: Any) -> None:
    setup.make(timeout="1s", onTimeout="approve")
    with serve() as running:
        running.wait_for(lambda: running.passes("wf") >= 1, "the first reconcile")
        setup.break_("banner")
        sync(running)
        done = settled(running, SUBJECT)
        assert (done["level"], done["outcome"], done["approver"]) == (
            "operator",
            "succeeded",
            "timeout",
        )
        assert done["note"].startswith("approved by default after the approval timeout")
        assert setup.labelled() == ["banner"]


def test_a_rejected_remediation_escalates_to_a_human_next_time(setup: Setup, serve: Any) -> None:
    setup.make(cooldown="1s")
    with serve() as running:
        running.wait_for(lambda: running.passes("wf") >= 1, "the first reconcile")
        setup.break_("banner")
        sync(running)
        running.wait_for(lambda: asked(running) != [], "the remediation to ask")
        [question] = asked(running)
        answer(running, question, OPERATOR, {"approved": False, "comment": "not now"})
        first = settled(running, SUBJECT)
        assert (first["outcome"], first["approver"]) == ("rejected", "otto")

        def asked_again() -> bool:
            sync(running)
            return len(decisions(running, subject=SUBJECT)) == 2

        running.wait_for(asked_again, "a second decision after the cooldown")
        second = decision(running, decisions(running, subject=SUBJECT)[0]["id"])
        assert (second["level"], second["approval"]) == ("human", "always-ask")
        assert second["context"]["facts"]["escalated"] is True
        running.wait_for(lambda: asked(running) != [], "the escalated question")
        [question] = asked(running)
        assert question["approvers"] == ["role:admin"]
        refused = answer(running, question, OPERATOR, {"approved": True})
        assert refused.status_code == 409
        answer(running, question, ADMIN, {"approved": True})
        assert settled(running, SUBJECT)["outcome"] == "succeeded"


def test_decisions_survive_in_the_store_for_the_cli(setup: Setup, serve: Any) -> None:
    setup.make(approval="auto")
    with serve() as running:
        running.wait_for(lambda: running.passes("wf") >= 1, "the first reconcile")
        setup.break_("banner")
        sync(running)
        done = settled(running, SUBJECT)
    with sqlite3.connect(setup.data / "reconciler.db") as db:
        rows = db.execute("SELECT id, outcome FROM daemon_decisions").fetchall()
    assert rows == [(done["id"], "succeeded")]


def test_no_more_remediations_are_open_than_the_cap(setup: Setup, serve: Any) -> None:
    setup.make(settings=SETTINGS + "    concurrency: 1\n")
    with serve() as running:
        running.wait_for(lambda: running.passes("wf") >= 1, "the first reconcile")
        setup.break_("banner")
        setup.break_("poster")
        sync(running)
        running.wait_for(lambda: asked(running) != [], "the first remediation to ask")
        sync(running)
        sync(running)
        [first] = decisions(running, type="remediation")
        [question] = asked(running)
        answer(running, question, OPERATOR, {"approved": True})
        settled(running, first["subject"])

        def second() -> bool:
            sync(running)
            return len(decisions(running, type="remediation")) == 2

        running.wait_for(second, "the second remediation once the first closed")
        subjects = {d["subject"] for d in decisions(running, type="remediation")}
        assert subjects == {"owner/File//banner", "owner/File//poster"}
