"""Policies and bad revisions: a strict denial blocks one object only; a revision whose YAML
or Rego is broken is rejected while the last-known-good revision keeps being served."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests import gitrepo
from tests.e2e import harness, repos
from tests.e2e.conftest import Launch


def test_a_strict_denial_blocks_only_the_violating_object(tmp_path: Path, launch: Launch) -> None:
    repo, out = tmp_path / "repo", tmp_path / "out"
    gitrepo.make_repo(repo, {**repos.settings(), **repos.owner_policy()})
    daemon = launch(harness.serve_args(repo, data_dir=tmp_path / "state"))
    sha = gitrepo.commit(
        repo,
        {
            "resources/good.yaml": repos.file_resource("good", path=out / "good", content="g\n"),
            "resources/bad.yaml": repos.file_resource(
                "bad", path=out / "bad", content="b\n", labels={"team": "x"}
            ),
        },
        message="two files, one without an owner",
    )

    def settled() -> tuple[dict[str, Any], dict[str, Any]]:
        good, bad = daemon.resource("File//good"), daemon.resource("File//bad")
        assert good is not None and bad is not None
        assert good["lastAppliedRevision"] == sha and harness.ready(good) == "True"
        assert bad["lastAttemptedRevision"] == sha
        return good, bad

    _, bad = harness.eventually(settled, what="both objects reconciled")
    assert (out / "good").read_text() == "g\n"
    assert not (out / "bad").exists()
    message = "e2e.owner: File bad has no owner label"
    denied = harness.condition(bad, "PolicyDenied")
    assert denied is not None
    assert (denied["status"], denied["reason"], denied["message"]) == (
        "True",
        "DeniedByPolicy",
        message,
    )
    ready = harness.condition(bad, "Ready")
    assert ready is not None and (ready["status"], ready["reason"]) == ("False", "DeniedByPolicy")
    assert bad["lastAppliedRevision"] is None

    [decision] = daemon.get("/api/v1/decisions?key=File//bad")["decisions"]
    assert _summary(decision) == {
        "policy": "e2e.owner",
        "binding": "files-need-owner",
        "resource": {
            "apiVersion": "reconciler.dev/v1",
            "kind": "File",
            "namespace": None,
            "name": "bad",
            "path": "resources/bad.yaml",
        },
        "outcome": "deny",
        "messages": ["File bad has no owner label"],
        "enforcement": "strict",
        "action": "blocked",
        "revision": sha,
    }
    [allowed] = daemon.get("/api/v1/decisions?key=File//good")["decisions"]
    assert (allowed["outcome"], allowed["action"]) == ("allow", "allowed")
    violations = daemon.get("/api/v1/violations")["violations"]
    assert [_summary(v) for v in violations] == [_summary(decision)]
    blocked = harness.events(daemon, type_="ResourceBlocked")
    assert [(e["objectKey"], e["message"]) for e in blocked] == [("File//bad", message)]

    # The next passes do not apply it either, nor log the same denial again and again.
    finished = len(harness.events(daemon, type_="ReconcileFinished"))
    harness.eventually(
        lambda: _at_least(len(harness.events(daemon, type_="ReconcileFinished")), finished + 2),
        what="two more passes",
    )
    assert not (out / "bad").exists()
    logged = len(daemon.get("/api/v1/decisions?key=File//bad")["decisions"])
    harness.holds_true(logged == 1, f"a standing denial is logged again every pass ({logged})")


def _at_least(value: int, minimum: int) -> None:
    assert value >= minimum


def _summary(decision: dict[str, Any]) -> dict[str, Any]:
    keys = ("policy", "binding", "resource", "outcome", "messages", "enforcement", "action")
    keys += ("revision",)
    return {k: decision[k] for k in keys}


BROKEN_YAML = """\
apiVersion: reconciler.dev/v1
kind: File
metadata:
  name: broken
spec:
  path: [unclosed
"""

BROKEN_REGO = """\
package e2e.owner

deny contains msg if {
	msg := "unterminated
}
"""


def _source(daemon: harness.RunningDaemon) -> dict[str, Any]:
    return daemon.source("repo")


def _rejected(daemon: harness.RunningDaemon, bad: str) -> dict[str, Any]:
    source = _source(daemon)
    assert source["rejectedRevision"] == bad, source
    return source


def test_a_broken_revision_keeps_the_last_good_one_served(tmp_path: Path, launch: Launch) -> None:
    repo, out = tmp_path / "repo", tmp_path / "out"
    motd = out / "motd"
    good = gitrepo.make_repo(
        repo,
        {
            **repos.settings(),
            **repos.owner_policy(),
            "resources/motd.yaml": repos.file_resource("motd", path=motd, content="v1\n"),
        },
    )
    daemon = launch(harness.serve_args(repo, data_dir=tmp_path / "state"))
    harness.eventually(lambda: _ready_at(daemon, good), what="first revision served")

    # A broken YAML file, together with a change that must not be applied.
    bad_yaml = gitrepo.commit(
        repo,
        {
            "resources/broken.yaml": BROKEN_YAML,
            "resources/motd.yaml": repos.file_resource("motd", path=motd, content="v2\n"),
        },
    )
    source = harness.eventually(lambda: _rejected(daemon, bad_yaml), what="YAML rejected")
    assert source["revision"] == good
    spec_invalid = harness.condition(source, "SpecInvalid")
    assert spec_invalid is not None
    assert (spec_invalid["status"], spec_invalid["reason"], spec_invalid["observedRevision"]) == (
        "True",
        "ValidationFailed",
        bad_yaml,
    )
    assert spec_invalid["message"] == (
        f"revision {bad_yaml[:12]} rejected: resources/broken.yaml:7: did not find expected "
        "',' or ']' (while parsing a flow sequence at line 6)"
    )
    ready = harness.condition(source, "Ready")
    assert ready is not None and (ready["status"], ready["reason"]) == ("False", "ValidationFailed")
    assert motd.read_text() == "v1\n"
    item = daemon.resource("File//motd")
    assert item is not None and item["lastAppliedRevision"] == good
    assert daemon.resource("File//broken") is None

    # Then broken Rego on top: still rejected, now for the policy.
    bad_rego = gitrepo.commit(
        repo, {"policies/owner.rego": BROKEN_REGO}, delete=["resources/broken.yaml"]
    )
    source = harness.eventually(lambda: _rejected(daemon, bad_rego), what="Rego rejected")
    assert source["revision"] == good
    spec_invalid = harness.condition(source, "SpecInvalid")
    assert spec_invalid is not None
    assert (spec_invalid["reason"], spec_invalid["observedRevision"]) == (
        "CompileFailed",
        bad_rego,
    ), spec_invalid
    assert spec_invalid["message"] == (
        f"revision {bad_rego[:12]} rejected: policies/bindings.yaml:1 spec.policy: policy "
        '"e2e.owner" not found (known: reconciler.packs.runbook_safety); policies/owner.rego:4: '
        "invalid character in string"
    )
    assert motd.read_text() == "v1\n"
    finished = len(harness.events(daemon, type_="ReconcileFinished"))
    harness.eventually(
        lambda: _at_least(len(harness.events(daemon, type_="ReconcileFinished")), finished + 2),
        what="two more passes over the same rejected revision",
    )
    rejected = harness.events(daemon, type_="RevisionRejected")  # each announced once
    assert [e["data"]["revision"] for e in rejected] == [bad_yaml, bad_rego]
    assert [e["data"]["reason"] for e in rejected] == ["ValidationFailed", "CompileFailed"]

    # Fixing both recovers: the newest revision is served and applied.
    fixed = gitrepo.commit(repo, {"policies/owner.rego": repos.OWNER_POLICY})
    source = harness.eventually(lambda: _ready_at(daemon, fixed), what="recovered")
    assert (source["rejectedRevision"], [c["type"] for c in source["conditions"]]) == (
        None,
        ["Ready"],
    )
    harness.eventually(lambda: _content(motd, "v2\n"), what="the held-back change applied")


def _ready_at(daemon: harness.RunningDaemon, sha: str) -> dict[str, Any]:
    source = _source(daemon)
    assert source["revision"] == sha and harness.ready(source) == "True", source
    assert source["lastResult"] and source["reconciling"] is False
    return source


def _content(path: Path, text: str) -> None:
    assert path.read_text() == text


def test_a_rejection_lists_every_problem_and_no_pass_after_it_succeeds(
    tmp_path: Path, launch: Launch
) -> None:
    repo, motd = tmp_path / "repo", tmp_path / "out" / "motd"
    good = gitrepo.make_repo(
        repo,
        {
            **repos.settings(),
            **repos.owner_policy(),
            "resources/motd.yaml": repos.file_resource("motd", path=motd, content="v1\n"),
        },
    )
    daemon = launch(harness.serve_args(repo, data_dir=tmp_path / "state"))
    harness.eventually(lambda: _ready_at(daemon, good), what="first revision served")
    seen = len(harness.events(daemon))
    bad = gitrepo.commit(
        repo, {"resources/broken.yaml": BROKEN_YAML, "policies/owner.rego": BROKEN_REGO}
    )
    source = harness.eventually(lambda: _rejected(daemon, bad), what="rejected")
    problems = [
        'policies/bindings.yaml:1 spec.policy: policy "e2e.owner" not found (known: '
        "reconciler.packs.runbook_safety)",
        "policies/owner.rego:4: invalid character in string",
        "resources/broken.yaml:7: did not find expected ',' or ']' (while parsing a flow "
        "sequence at line 6)",
    ]
    spec_invalid = harness.condition(source, "SpecInvalid")
    assert spec_invalid is not None
    assert (spec_invalid["reason"], spec_invalid["message"]) == (
        "ValidationFailed",
        f"revision {bad[:12]} rejected: " + "; ".join(problems),
    )
    [rejected] = harness.events(daemon, type_="RevisionRejected")
    assert rejected["data"] == {
        "source": "repo",
        "revision": bad,
        "reason": "ValidationFailed",
        "problems": problems,
    }
    finished = len(harness.events(daemon, type_="ReconcileFinished"))
    harness.eventually(
        lambda: _at_least(len(harness.events(daemon, type_="ReconcileFinished")), finished + 2),
        what="two more passes over the same rejected revision",
    )
    after = harness.events(daemon)[seen:]  # oldest first
    results = [e["data"]["result"] for e in after if e["type"] == "ReconcileFinished"]
    assert results and set(results) == {"failed"}, results
    message = next(e["message"] for e in after if e["type"] == "ReconcileFinished")
    assert message.endswith(
        f": revision {bad[:12]} rejected (ValidationFailed); last-known-good {good[:12]} kept"
    ), message


DEPLOYMENT_POLICY = """\
package e2e.replicas

import rego.v1

deny contains msg if {
	input.resource.spec.replicas < 2
	name := input.resource.metadata.name
	msg := sprintf("%s runs %d replica(s)", [name, input.resource.spec.replicas])
}
"""

DEPLOYMENT_BINDING = """\
apiVersion: reconciler.dev/v1
kind: PolicyBinding
metadata:
  name: enough-replicas
spec:
  policy: e2e.replicas
  scope:
    kinds: [Deployment]
  enforcement: strict
"""

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 1
"""


def test_a_denied_unmanaged_document_is_a_violation_as_soon_as_it_is_loaded(
    tmp_path: Path, launch: Launch
) -> None:
    repo = tmp_path / "repo"
    policies = {
        "policies/replicas.rego": DEPLOYMENT_POLICY,
        "policies/deployments.yaml": DEPLOYMENT_BINDING,
    }
    good = gitrepo.make_repo(repo, {**repos.settings(), **policies})
    daemon = launch(harness.serve_args(repo, data_dir=tmp_path / "state"))  # audits: 10m
    harness.eventually(lambda: _serving(daemon, good), what="first revision served")
    sha = gitrepo.commit(repo, {"resources/web.yaml": DEPLOYMENT}, message="a deployment")

    def announced() -> dict[str, Any]:
        found = harness.events(daemon, type_="PolicyViolation")
        assert len(found) == 1, found
        return found[0]

    event = harness.eventually(announced, what="the violation announced")
    assert (event["objectKey"], event["message"]) == (
        "Deployment/shop/web",
        "e2e.replicas: web runs 1 replica(s)",
    )
    assert event["data"] == {
        "source": "repo",
        "revision": sha,
        "policy": "e2e.replicas",
        "binding": "enough-replicas",
        "outcome": "deny",
        "enforcement": "strict",
        "action": "violation",
        "messages": ["web runs 1 replica(s)"],
        "path": "resources/web.yaml",
    }
    source = harness.eventually(lambda: _serving(daemon, sha), what="the commit served")
    assert source["lastResult"] == {"violation": 1}
    [decision] = daemon.get("/api/v1/decisions?key=Deployment/shop/web")["decisions"]
    assert (decision["action"], decision["revision"]) == ("violation", sha)
    assert [v["resource"]["name"] for v in daemon.get("/api/v1/violations")["violations"]] == [
        "web"
    ]
    assert harness.events(daemon, type_="ResourceBlocked") == []
    assert daemon.resource("Deployment/shop/web") is None  # not managed: no status


def _serving(daemon: harness.RunningDaemon, sha: str) -> dict[str, Any]:
    source = _source(daemon)
    assert source["revision"] == sha and harness.ready(source) == "True", source
    assert source["reconciling"] is False and source["lastSyncAt"], source
    return source
