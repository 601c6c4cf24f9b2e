"""End to end: pull requests on the example repository, simulated over real git, real
regorus in the sandbox process, real files and a real SQLite store."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.cli import simulate as cli
from reconciler.simulate import details
from reconciler.simulate.records import Delta, Fire, ProblemItem
from reconciler.store.retention import RetentionSettings
from reconciler.store.sqlite import SqliteStore
from tests.simulate.conftest import PullRequest, record_decisions

NAMESPACE_POLICY = """\
package org.namespaces

import rego.v1

deny contains msg if {
	input.resource.metadata.namespace == "storefront"
	msg := sprintf("%s may not run in storefront", [input.resource.metadata.name])
}
"""
NAMESPACE_BINDING = """\
apiVersion: reconciler.dev/v1
kind: PolicyBinding
metadata: {name: no-storefront}
spec:
  policy: org.namespaces
  scope: {kinds: [Deployment]}
  enforcement: strict
  remediation: {runbook: disk-full, approval: required}
"""
VIOLATION_WORKFLOW = """\
apiVersion: reconciler.dev/v1
kind: Workflow
metadata: {name: page-storefront}
spec:
  triggers:
    - violation: {binding: no-storefront}
  steps:
    - {name: page, command: ["echo", "page"]}
"""


def test_a_strict_policy_denying_existing_resources_blocks_the_change(
    pr: PullRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    pr.change(
        {
            "policies/org/namespaces.rego": NAMESPACE_POLICY,
            "policies/org/bindings.yaml": NAMESPACE_BINDING,
            "workflows/page.yaml": VIOLATION_WORKFLOW,
        }
    )
    code = main(
        ["simulate", str(pr.repo), "--base", pr.base, "--head", pr.head, "--format", "json"]
    )
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert report["blocked"] is True
    assert report["blockingReasons"] == ["2 newly denied strict decision(s)"]
    denied = [
        (d["key"], d["binding"], d["action_after"], d["messages"], d["path"], d["line"])
        for d in report["decisions"]["deltas"]
        if d["delta"] == "newly-denied"
    ]
    assert denied == [
        (
            "Deployment/storefront/redis-cache",
            "no-storefront",
            "blocked",
            ["redis-cache may not run in storefront"],
            "resources/kubernetes/redis-cache.yaml",
            3,
        ),
        (
            "Deployment/storefront/storefront-web",
            "no-storefront",
            "blocked",
            ["storefront-web may not run in storefront"],
            "resources/kubernetes/storefront-web.yaml",
            4,
        ),
    ]
    added = {(p["kind"], p["name"], p["change"]) for p in report["policies"]}
    assert added == {("package", "org.namespaces", "added"), ("binding", "no-storefront", "added")}
    fires = {(f["kind"], f["name"], f["trigger"]) for f in report["runs"]["fires"]}
    assert fires == {
        ("Workflow", "page-storefront", "violation"),
        ("Runbook", "disk-full", "remediation"),
    }


def test_relaxing_a_policy_shows_flips_in_the_replayed_decision_log(
    pr: PullRequest, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    store = SqliteStore(data / "reconciler.db", retention=RetentionSettings())
    logged, without_input = record_decisions(store, pr.repo, revision=pr.base, passes=3)
    store.close()
    bindings = (pr.repo / "policies/bindings.yaml").read_text()
    relaxed = bindings.replace("    min: 2\n    max: 10\n", "    min: 1\n    max: 2\n")
    assert relaxed != bindings
    pr.change({"policies/bindings.yaml": relaxed})
    report = pr.simulate(data_dir=data)
    assert report.replay is not None
    flips = {
        (f.binding, f.direction): (f.count, [e.key for e in f.examples])
        for f in report.replay.flips
    }
    assert flips == {
        ("replica-bounds", "deny->allow"): (3, ["Deployment/storefront/storefront-web"]),
        ("replica-bounds", "allow->deny"): (3, ["Deployment/payments/payments-api"]),
    }
    assert without_input == 3 * 6  # the Gatekeeper constraint's decisions
    assert report.replay.missing_inputs == without_input
    assert report.replay.replayed == logged - without_input
    example = next(f for f in report.replay.flips if f.direction == "allow->deny").examples[0]
    assert example.messages == ()  # the head's messages are not shown (test_replay_leaks.py)
    assert report.plan is not None and report.plan.observed_from.startswith("store ")
    assert not report.blocked  # replica-bounds is monitor: flips are reported, not blocking


def test_a_runbook_with_a_dangerous_command_is_reported_invalid(pr: PullRequest) -> None:
    pr.change(
        {
            "runbooks/wipe.yaml": (
                "apiVersion: reconciler.dev/v1\nkind: Runbook\nmetadata: {name: wipe}\n"
                "spec:\n  type: maintenance\n  steps:\n"
                "    - {name: wipe, command: [rm, -rf, /]}\n"
            )
        }
    )
    report = pr.simulate()
    assert report.problems is not None
    assert [str(p) for p in report.problems.introduced] == [str(p) for p in report.problems.at_head]
    assert len(report.problems.introduced) == 1
    problem = report.problems.introduced[0]
    assert (problem.path, problem.line, problem.key) == (
        "runbooks/wipe.yaml",
        7,
        "spec.steps[0].command",
    )
    assert "rm -rf /" in problem.message
    assert report.runs is not None
    (change,) = report.runs.changes
    assert (change.kind, change.name, change.change.value) == ("Runbook", "wipe", "added")
    assert change.problems == (str(problem),)
    assert report.blocking_reasons() == ["1 invalid spec(s) at head"]


def test_a_changed_runbook_is_dry_run(pr: PullRequest) -> None:
    text = (pr.repo / "runbooks/rotate-logs.yaml").read_text()
    pr.change({"runbooks/rotate-logs.yaml": text.replace("default: 14", "default: 7")})
    report = pr.simulate()
    assert report.runs is not None
    (change,) = report.runs.changes
    assert (change.name, change.change.value, change.problems) == ("rotate-logs", "changed", ())
    assert change.dry_run[0] == "runbook rotate-logs (maintenance) from runbooks/rotate-logs.yaml"
    assert change.dry_run[-1].endswith("dry run: nothing was executed")
    assert not report.blocked


def test_a_git_trigger_matching_a_changed_path_fires(pr: PullRequest) -> None:
    motd = (pr.repo / "resources/files/motd.yaml").read_text()
    pr.change({"resources/files/motd.yaml": motd.replace("Welcome.", "Hello.")})
    report = pr.simulate()
    assert report.runs is not None
    assert report.runs.fires == (
        Fire(
            kind="Workflow",
            name="nightly-backup",
            trigger="git",
            reason="git paths resources/files/** match resources/files/motd.yaml",
        ),
    )
    assert report.changed_paths == ("resources/files/motd.yaml",)


def test_new_problems_and_fixed_ones_are_matched_without_their_line(pr: PullRequest) -> None:
    pr.change(
        {
            "resources/files/broken.yaml": (
                "apiVersion: reconciler.dev/v1\nkind: File\nmetadata: {name: broken}\nspec: {}\n"
            )
        }
    )
    report = pr.simulate()
    assert report.problems is not None
    assert [str(p) for p in report.problems.introduced] == [
        "resources/files/broken.yaml:4 spec.path: required"
    ]
    assert report.problems.fixed == ()
    assert report.blocked


def test_exec_resources_are_not_observed_and_nothing_is_applied(pr: PullRequest) -> None:
    pr.change({})
    report = pr.simulate()
    assert report.plan is not None
    items = {i.key: (i.action, i.note) for i in report.plan.items}
    assert items["ExecResource//web-service"] == (
        "not-observed",
        "not observed (untrusted provider program)",
    )
    assert report.plan.observed_from == "providers (read-only)"


def test_a_resource_the_change_adds_is_judged_by_the_heads_policies(pr: PullRequest) -> None:
    web = (pr.repo / "resources/kubernetes/payments-api.yaml").read_text().split("---")[0]
    unlabelled = web.replace("payments-api", "payments-batch").replace(
        "    owner: payments-leads\n", ""
    )
    pr.change({"resources/kubernetes/payments-batch.yaml": unlabelled})
    report = pr.simulate()
    assert report.decisions is not None
    assert [
        (d.delta, d.key, d.cause, d.action_before, d.action_after, d.messages)
        for d in report.decisions.deltas
    ] == [
        (
            Delta.NEWLY_DENIED,
            "Deployment/payments/payments-batch",
            "added",
            None,
            "blocked",
            ('Deployment payments/payments-batch is missing the required label "owner"',),
        ),
    ]
    # only the added resource was evaluated: no policy changed
    assert report.decisions.decisions_base == 0
    assert report.decisions.decisions_head == 6
    assert report.blocking_reasons() == ["1 newly denied strict decision(s)"]


BROKEN_MOTD = "apiVersion: reconciler.dev/v1\nkind: File\nmetadata: {name: motd\nspec: [\n"
BROKEN_REGO = "package k8s.replicas\n\ndeny contains msg if {\n  input.x ==\n}\n"
REJECTED = [
    'policies/bindings.yaml:66 spec.policy: policy "k8s.replicas" not found (known: '
    "k8s.container_limits, k8s.images, k8s.privileged, k8s.required_labels, "
    "k8sallowedrepos, reconciler.packs.runbook_safety, services.replica_ceiling)",
    "policies/k8s/replicas.rego:5: expecting expression",
    "resources/files/motd.yaml:4: did not find expected ',' or '}' (while parsing a flow "
    "mapping at line 3)",
]


def test_a_head_the_daemon_would_reject_gets_one_verdict_and_nothing_predicted(
    pr: PullRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    pr.change({"resources/files/motd.yaml": BROKEN_MOTD, "policies/k8s/replicas.rego": BROKEN_REGO})
    code = main(
        ["simulate", str(pr.repo), "--base", pr.base, "--head", pr.head, "--format", "json"]
    )
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert (report["verdict"], report["verdictText"]) == ("rejected", "rejected: 3 problems")
    assert report["blockingReasons"] == REJECTED
    assert [str(ProblemItem.model_validate(p)) for p in report["rejection"]] == REJECTED
    predicted = {k: report[k] for k in ("tests", "decisions", "plan", "replay", "runs")}
    assert predicted == dict.fromkeys(predicted)
    assert (report["policies"], report["conflicts"], report["errors"]) == ([], [], [])


def test_every_format_gives_a_rejected_head_the_one_verdict(pr: PullRequest) -> None:
    pr.change({"resources/files/motd.yaml": BROKEN_MOTD, "policies/k8s/replicas.rego": BROKEN_REGO})
    report = pr.simulate()
    label = f"{pr.base[:7]}..{pr.head[:7]}"
    (comment,) = cli.render(report, "markdown")
    assert comment == (
        f"### Reconciler simulation `{label}`: ❌ rejected: 3 problems\n\n"
        "The daemon would reject this revision and keep reconciling its last good one: "
        "nothing in this change would be applied, evaluated or started until these are "
        "fixed.\n\n<details open><summary>Problems at head: 3</summary>\n\n"
        + "".join(f"- ❌ `{p}`\n" for p in REJECTED)
        + "\n</details>\n"
    )
    root = ET.fromstring(cli.render(report, "junit")[0])
    assert root.get("name") == f"reconciler simulate {label}: rejected: 3 problems"
    assert [(s.get("name"), s.get("failures")) for s in root.iter("testsuite")] == [
        ("rejected", "3")
    ]
    log = json.loads(cli.render(report, "sarif")[0])["runs"][0]
    assert log["properties"] == {"verdict": "rejected: 3 problems"}
    assert [(r["ruleId"], r["level"]) for r in log["results"]] == [("rejected", "error")] * 3
    check = json.loads(cli.render(report, "github")[0])
    assert (check["conclusion"], check["output"]["title"]) == (
        "failure",
        f"❌ rejected: 3 problems ({label})",
    )
    assert [a["title"] for a in check["output"]["annotations"]] == ["rejected"] * 3
    assert "would start" not in check["output"]["text"]


def test_a_problem_already_at_base_is_marked_in_the_rejection(pr: PullRequest) -> None:
    pr.base = pr.change({"resources/files/motd.yaml": BROKEN_MOTD})
    pr.change({"policies/k8s/replicas.rego": BROKEN_REGO})
    lines = details.sections(pr.simulate())[0].lines
    assert lines == (
        f"- ❌ `{REJECTED[0]}`",
        f"- ❌ `{REJECTED[1]}`",
        f"- `{REJECTED[2]}` (already at base)",
    )
